# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# Every side effect of provisioning goes through these functions, so that --dry-run prints each
# one instead of doing it and --root redirects every file write. Each is idempotent: it looks
# first and acts only on a difference, so a second run changes nothing and says so.
#
# Two kinds of command:
# - `run`: its effect is the point of the step and lands in files under --root (a venv, an
#   extracted archive, a build);
# - `run_live`: it acts on the running system (packages, users, services, sysfs). Under --root
#   there is no running system to act on, so it is reported and skipped.

# Directories a dry run has planned to create, so it plans each once ("|a||b|").
PLANNED_DIRS=""

# Set by write_file: 1 when the last call changed (or, dry, would change) the file.
LAST_WRITE_CHANGED=0

count_change() { CHANGES=$((CHANGES + 1)); }

run() {
  count_change
  if ((DRY_RUN)); then
    say "[dry-run] would run: $(quote_cmd "$@")"
    return 0
  fi
  say "+ $(quote_cmd "$@")"
  "$@" || die_infra "command failed (exit $?): $(quote_cmd "$@")"
}

# run_in DIR CMD...: `run` with DIR as the working directory (CMake presets need it).
run_in() {
  local dir=$1
  shift
  count_change
  if ((DRY_RUN)); then
    say "[dry-run] would run in $dir: $(quote_cmd "$@")"
    return 0
  fi
  say "+ (cd $(quote_cmd "$dir") && $(quote_cmd "$@"))"
  (cd "$dir" && "$@") || die_infra "command failed (exit $?) in $dir: $(quote_cmd "$@")"
}

run_live() {
  if [[ $ROOT != / ]]; then
    say "skip (--root): $(quote_cmd "$@")"
    return 0
  fi
  run "$@"
}

# write_file PATH MODE [secret] < CONTENT: PATH is the target path (under --root on disk).
# A secret's content is never printed, not even as a digest.
write_file() {
  local path=$1 mode=$2 secret=${3:-}
  local content target digest
  content=$(
    cat
    printf x
  )
  content=${content%x}
  target=$(in_root "$path")
  LAST_WRITE_CHANGED=0
  if [[ -f $target && "$(file_mode "$target")" == "$mode" ]] && printf '%s' "$content" | cmp -s - "$target"; then
    say "ok: $path unchanged"
    return 0
  fi
  LAST_WRITE_CHANGED=1
  count_change
  digest=$(printf '%s' "$content" | sha256_stdin)
  if ((DRY_RUN)); then
    if [[ -n $secret ]]; then
      say "[dry-run] would write $path (mode $mode, secret: content not shown)"
    else
      say "[dry-run] would write $path (mode $mode, ${#content} bytes, sha256 $digest):"
      printf '%s' "$content" | sed 's/^/    | /'
      [[ -z $content || $content == *$'\n' ]] || printf '\n'
    fi
    return 0
  fi
  mkdir -p "$(dirname "$target")" || die_infra "cannot create $(dirname "$target")"
  local tmp
  tmp=$(mktemp "$target.XXXXXX") || die_infra "cannot write next to $target"
  # The temporary file is private from the first byte, so a secret is never readable by others.
  chmod 600 "$tmp"
  printf '%s' "$content" >"$tmp" || die_infra "cannot write $target"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$target" || die_infra "cannot move $tmp to $target"
  if [[ -n $secret ]]; then
    say "wrote $path (mode $mode, secret)"
  else
    say "wrote $path (mode $mode, sha256 $digest)"
  fi
}

# install_file SOURCE PATH MODE: a file of this checkout, shown in a dry run by name and digest.
install_file() {
  local source=$1 path=$2 mode=$3 target
  target=$(in_root "$path")
  if [[ -f $target && "$(file_mode "$target")" == "$mode" ]] && cmp -s "$source" "$target"; then
    say "ok: $path unchanged"
    return 0
  fi
  if ((DRY_RUN)); then
    count_change
    say "[dry-run] would copy ${source#"$REPO_ROOT"/} to $path (mode $mode, sha256 $(sha256_of "$source"))"
    return 0
  fi
  write_file "$path" "$mode" <"$source"
}

# ensure_dir PATH MODE [OWNER]: the owner is set only on the live system (a user of this
# machine means nothing inside --root).
ensure_dir() {
  local path=$1 mode=$2 owner=${3:-}
  local target
  target=$(in_root "$path")
  if [[ $PLANNED_DIRS == *"|$path|"* ]]; then
    : # a dry run already planned it
  elif [[ ! -d $target ]]; then
    run mkdir -p -m "$mode" "$target"
    ((DRY_RUN)) && PLANNED_DIRS="$PLANNED_DIRS|$path|"
  elif [[ "$(file_mode "$target")" != "$mode" ]]; then
    run chmod "$mode" "$target"
  fi
  if [[ -n $owner ]]; then
    if [[ $ROOT != / ]]; then
      say "skip (--root): chown $owner $path"
    elif ((!LIVE_PROBES)) || [[ ! -d $target ]] || [[ "$(file_owner "$target")" != "$owner" ]]; then
      run_live chown -R "$owner" "$target"
    fi
  fi
}

# set_sysfs FILE VALUE: a kernel setting on the live system (never under --root).
set_sysfs() {
  local file=$1 value=$2 current=""
  [[ -r $file ]] && current=$(cat "$file")
  if [[ $current == "$value" ]]; then
    say "ok: $file is $value"
    return 0
  fi
  if [[ $ROOT != / ]]; then
    say "skip (--root): write $value to $file (now ${current:-unreadable})"
    return 0
  fi
  count_change
  if ((DRY_RUN)); then
    say "[dry-run] would write $value to $file (now ${current:-unreadable})"
    return 0
  fi
  say "+ echo $value > $file"
  printf '%s\n' "$value" >"$file" || die_infra "cannot write $value to $file"
}

# What a run did, as its last line; the tests and the README quote these sentences.
finish() {
  if ((NO_RUNNER)); then
    # Without a runner there is no .env to carry these to jobs: whoever runs them sets them.
    say ""
    say "for jobs on this machine (--no-runner: no runner .env carries these):"
    runner_env_text | sed 's/^/  /'
  fi
  say ""
  if ((DRY_RUN)); then
    if ((CHANGES == 0)); then
      say "dry run: nothing would change (already provisioned); nothing was done"
    else
      say "dry run: $CHANGES action(s) would be taken; nothing was done"
    fi
    if [[ -n $MISSING ]]; then
      printf 'a real run also needs:\n%s' "$MISSING"
    fi
  elif ((CHANGES == 0)); then
    say "nothing to change: $DEVICE is already provisioned"
  else
    say "provisioned $DEVICE: $CHANGES change(s)"
  fi
}
