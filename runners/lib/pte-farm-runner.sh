#!/bin/bash
# pte-farm-runner: keeps one ephemeral GitHub Actions runner per job on a farm device. Installed by
# runners/<kind>/provision.sh as PREFIX/bin/pte-farm-runner and started by the device's service
# (systemd on Linux, launchd on macOS) again after every job: each start asks GitHub for a fresh
# just-in-time runner configuration, so every job gets a new runner that GitHub removes after it.
#
#   pte-farm-runner jitconfig CONF OUT   as root: register a just-in-time runner, its config into OUT
#   pte-farm-runner run CONF JITFILE     as the run user: start the runner with it (the file is deleted)
#   pte-farm-runner once CONF            as root (launchd): both, dropping to the run user to run
#   pte-farm-runner check CONF           as root: can the stored token manage the scope's runners?
#
# The token stays with root: only the jitconfig step reads it, and jobs run as the run user. It
# reaches curl on stdin (a curl config), never on a command line other users can see.
# Plain bash 3.2, curl and sed, as on a bare board or a stock Mac (launchd runs /bin/bash).
# PTE_FARM_ROOT=DIR resolves every absolute path under DIR (a provisioned tree in a test).
set -euo pipefail

SELF=$0

fail() {
  local code=$1
  shift
  printf 'pte-farm-runner: %s\n' "$*" >&2
  exit "$code"
}

rooted() { printf '%s%s' "${PTE_FARM_ROOT%/}" "$1"; }
PTE_FARM_ROOT=${PTE_FARM_ROOT:-}

conf() {
  local key=$1 line
  while IFS= read -r line || [[ -n $line ]]; do
    case $line in "$key="*)
      printf '%s' "${line#*=}"
      return 0
      ;;
    esac
  done <"$(rooted "$CONF")"
  fail 2 "$CONF has no $key= line; rerun the provisioning script"
}

load_conf() {
  CONF=$1
  [[ -f "$(rooted "$CONF")" ]] || fail 2 "no configuration $CONF; run runners/<kind>/provision.sh first"
  API_URL=$(conf API_URL)
  SCOPE=$(conf SCOPE)
  RUNNER_GROUP_ID=$(conf RUNNER_GROUP_ID)
  LABELS=$(conf LABELS)
  NAME_PREFIX=$(conf NAME_PREFIX)
  RUNNER_DIR=$(conf RUNNER_DIR)
  RUN_USER=$(conf RUN_USER)
  TOKEN_FILE=$(conf TOKEN_FILE)
}

# github METHOD PATH [JSON]: sets STATUS and BODY (the reply's text).
github() {
  local token reply
  token=$(tr -d ' \t\r\n' <"$(rooted "$TOKEN_FILE")") || fail 2 "cannot read the token in $TOKEN_FILE"
  [[ $token =~ ^[A-Za-z0-9_.-]+$ ]] || fail 2 "$TOKEN_FILE does not hold a GitHub token; store one with the provisioning script's --token-file"
  reply=$(mktemp)
  local args=(-sS --retry 3 --retry-delay 2 --config - -X "$1" -o "$reply" -w '%{http_code}'
    -H "Accept: application/vnd.github+json" -H "X-GitHub-Api-Version: 2022-11-28")
  if [[ $# -ge 3 ]]; then args+=(-H "Content-Type: application/json" --data "$3"); fi
  if ! STATUS=$(printf 'header = "Authorization: Bearer %s"\n' "$token" | curl "${args[@]}" "$API_URL/$2"); then
    rm -f "$reply"
    fail 3 "cannot reach $API_URL (curl failed); the runner tries again at its next start"
  fi
  BODY=$(cat "$reply")
  rm -f "$reply"
}

# Why GitHub said no, in terms of what to change.
explain() {
  local message
  message=$(printf '%s' "$BODY" | sed -n 's/.*"message"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p;' | sed -n 1p)
  case $STATUS in
    401) fail 2 "GitHub rejected the token in $TOKEN_FILE (401 ${message:-Bad credentials}): it is wrong, expired or revoked; store a new one with the provisioning script's --token-file" ;;
    403 | 404) fail 2 "the token in $TOKEN_FILE cannot manage the self-hosted runners of $SCOPE (HTTP $STATUS: ${message:-no message}): a fine-grained token needs Administration: read and write on the repository (for an organization: Self-hosted runners: read and write)" ;;
    422) fail 2 "GitHub refused the runner for $SCOPE (422: ${message:-no message}): check --runner-group-id and the labels" ;;
    *) fail 3 "GitHub answered HTTP $STATUS for $SCOPE (${message:-no message}); the runner tries again at its next start" ;;
  esac
}

json_labels() {
  local out="" label rest=$LABELS
  while [[ -n $rest ]]; do
    label=${rest%%,*}
    if [[ $rest == *,* ]]; then rest=${rest#*,}; else rest=""; fi
    [[ $label =~ ^[A-Za-z0-9._-]+$ ]] || fail 2 "label '$label' in $CONF: letters, digits, . _ - only"
    out="$out${out:+,}\"$label\""
  done
  printf '%s' "$out"
}

cmd_jitconfig() {
  [[ $# -eq 2 ]] || fail 2 "usage: pte-farm-runner jitconfig CONF OUT"
  load_conf "$1"
  local out name jit
  out=$(rooted "$2")
  [[ -d "$(dirname "$out")" ]] || fail 3 "no directory for $2 (systemd creates it as the unit's RuntimeDirectory)"
  [[ $NAME_PREFIX =~ ^[A-Za-z0-9._-]+$ && $RUNNER_GROUP_ID =~ ^[0-9]+$ ]] || fail 2 "NAME_PREFIX or RUNNER_GROUP_ID in $CONF is malformed"
  # Unique per start: GitHub refuses a second runner with a name it still knows.
  name="$NAME_PREFIX-$(date -u +%Y%m%d%H%M%S)-$$"
  github POST "$SCOPE/actions/runners/generate-jitconfig" \
    "{\"name\":\"$name\",\"runner_group_id\":$RUNNER_GROUP_ID,\"labels\":[$(json_labels)],\"work_folder\":\"_work\"}"
  [[ $STATUS == 201 ]] || explain
  # The config is base64, so this cannot be fooled by escapes inside the JSON string.
  jit=$(printf '%s' "$BODY" | sed -n 's/.*"encoded_jit_config"[[:space:]]*:[[:space:]]*"\([A-Za-z0-9+/=]*\)".*/\1/p' | sed -n 1p)
  [[ -n $jit ]] || fail 3 "GitHub's reply for $SCOPE has no encoded_jit_config"
  (
    umask 077
    printf '%s' "$jit" >"$out.tmp.$$"
  )
  # Inside a test tree there is no such user: the file stays the caller's.
  if [[ -z $PTE_FARM_ROOT ]]; then chown "$RUN_USER" "$out.tmp.$$"; fi
  mv -f "$out.tmp.$$" "$out"
  printf 'pte-farm-runner: registered just-in-time runner %s for %s (labels %s)\n' "$name" "$SCOPE" "$LABELS"
}

cmd_run() {
  [[ $# -eq 2 ]] || fail 2 "usage: pte-farm-runner run CONF JITFILE"
  load_conf "$1"
  local file config
  file=$(rooted "$2")
  [[ -s $file ]] || fail 3 "no just-in-time config at $2 (the jitconfig step did not run)"
  config=$(cat "$file")
  # Single use: GitHub accepts a config once, and nothing else should find it on disk.
  rm -f "$file"
  cd "$(rooted "$RUNNER_DIR")" || fail 3 "no runner in $RUNNER_DIR; rerun the provisioning script"
  exec ./run.sh --jitconfig "$config"
}

cmd_once() {
  [[ $# -eq 1 ]] || fail 2 "usage: pte-farm-runner once CONF"
  local dir
  dir="/var/run/pte-farm-runner-$(basename "$1" .conf)"
  # Traversable but not listable by the run user, who opens the file by name.
  mkdir -p "$(rooted "$dir")"
  chmod 711 "$(rooted "$dir")"
  cmd_jitconfig "$1" "$dir/jitconfig"
  exec sudo -u "$RUN_USER" -H /bin/bash "$SELF" run "$1" "$dir/jitconfig"
}

cmd_check() {
  [[ $# -eq 1 ]] || fail 2 "usage: pte-farm-runner check CONF"
  load_conf "$1"
  github GET "$SCOPE/actions/runners?per_page=1"
  [[ $STATUS == 200 ]] || explain
  printf 'pte-farm-runner: the token can manage the self-hosted runners of %s\n' "$SCOPE"
}

case ${1:-} in
  jitconfig | run | once | check)
    command=$1
    shift
    "cmd_$command" "$@"
    ;;
  *) fail 2 "usage: pte-farm-runner jitconfig CONF OUT | run CONF JITFILE | once CONF | check CONF" ;;
esac
