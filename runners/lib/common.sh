# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# State and small helpers shared by every runners/<kind>/provision.sh. Sourced, never run.
#
# Written for bash 3.2 as well as 5 (macOS's /bin/bash is 3.2): no associative arrays, no
# `mapfile`, no `${x,,}`, and no "${array[@]}" of a possibly empty array under `set -u`.

PTE_FARM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$PTE_FARM_LIB_DIR/../.." && pwd)

# What the options set (args.sh); the defaults are a production install.
DRY_RUN=0
ROOT=/
PREFIX=/opt/pte-farm
ETC_DIR=/etc/pte-farm
SYSFS=/sys
# 1 when this machine is the kind's platform: probes of the live system (packages, users,
# services) mean something. A dry run elsewhere (reviewing a Pi's plan on a laptop) reports
# them as "not checked" and plans as if nothing were installed yet.
LIVE_PROBES=1

# Counted by effects.sh: what a run changed (or, dry, would change).
CHANGES=0
# Inputs a real run needs but a dry run did without (named in the summary).
MISSING=""

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }

# Bad input or a refusal (EULA, cooling, labels): exit 2, as `pte-farm` does for usage errors.
die_config() {
  printf 'error: %s\n' "$*" >&2
  exit 2
}

# Something outside the input failed (a command, the network, GitHub): exit 3.
die_infra() {
  printf 'error: %s\n' "$*" >&2
  exit 3
}

# Records an input a real run cannot do without; a dry run goes on and lists them at the end.
need_for_real_run() {
  if ((DRY_RUN)); then
    MISSING="${MISSING}  - $*"$'\n'
    say "[dry-run] a real run needs: $*"
  else
    die_config "$*"
  fi
}

# The path on this machine of a target path: under --root when one is given.
in_root() {
  if [[ $ROOT == / ]]; then printf '%s' "$1"; else printf '%s%s' "${ROOT%/}" "$1"; fi
}

os_name() { uname -s; }

# x86_64 | arm64, as farm.yml spells architectures (Linux says aarch64, macOS arm64).
machine_arch() {
  case "$(uname -m)" in
    aarch64 | arm64) printf 'arm64' ;;
    *) uname -m ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

sha256_stdin() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum | cut -d' ' -f1
  else
    shasum -a 256 | cut -d' ' -f1
  fi
}

# Permission bits as three octal digits (GNU and BSD stat differ).
file_mode() {
  stat -c %a "$1" 2>/dev/null || stat -f %Lp "$1"
}

file_owner() {
  stat -c %U "$1" 2>/dev/null || stat -f %Su "$1"
}

# A command line as one copy-pasteable string: plain words stay plain.
quote_cmd() {
  local out="" word
  for word in "$@"; do
    if [[ -n $word && $word =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      out="$out$word "
    elif [[ $word != *\'* ]]; then
      out="$out'$word' "
    else
      out="$out$(printf '%q' "$word") "
    fi
  done
  printf '%s' "${out% }"
}

# GitHub labels and runner names go into JSON and a curl config unescaped, so they are held to
# the characters GitHub's own labels use.
is_plain_word() {
  [[ $1 =~ ^[A-Za-z0-9._-]+$ ]]
}

# archive_has ARCHIVE NAME: whether NAME is at the archive's top. The listing is read whole
# first: `tar | grep -q` under pipefail fails whenever grep stops reading early.
archive_has() {
  local listing
  listing=$(tar -tf "$1" 2>/dev/null) || return 1
  [[ $'\n'"$listing"$'\n' == *$'\n'"$2"$'\n'* || $'\n'"$listing"$'\n' == *$'\n'"./$2"$'\n'* ]]
}

# Reads KEY=VALUE from a file without sourcing it (the file may be edited by hand).
conf_value() {
  local key=$1 file=$2 line
  while IFS= read -r line || [[ -n $line ]]; do
    case $line in
      "$key="*)
        printf '%s' "${line#*=}"
        return 0
        ;;
    esac
  done <"$file"
  return 1
}
