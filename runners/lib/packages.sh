# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# System packages: installed with apt on Debian-family Linux (Raspberry Pi OS included). On macOS
# provisioning runs as root and Homebrew refuses root, so missing tools are named with the
# command that installs them, and the run stops.

# apt_packages PKG...: installs the missing ones in one apt-get call.
apt_packages() {
  step "system packages: $*"
  if ((SKIP_PACKAGES)); then
    say "skip (--skip-packages): $*"
    return 0
  fi
  if [[ $ROOT != / ]]; then
    say "skip (--root): packages are installed on the running system only ($*)"
    return 0
  fi
  if ((!LIVE_PROBES)); then
    run_live apt-get update
    run_live env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
    return 0
  fi
  command -v dpkg-query >/dev/null 2>&1 ||
    die_config "no apt/dpkg here: install $* with this system's package manager, then rerun with --skip-packages"
  local pkg missing=""
  for pkg in "$@"; do
    if [[ "$(dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null)" == "install ok installed" ]]; then
      say "ok: $pkg installed"
    else
      missing="$missing $pkg"
    fi
  done
  [[ -z $missing ]] && return 0
  # shellcheck disable=SC2086 # $missing is a list of package names
  run_live env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}

# brew_tools TOOL=FORMULA...: checks each tool is on PATH; names the brew command otherwise.
brew_tools() {
  local pair tool formula missing=""
  step "tools: ${*%%=*}"
  for pair in "$@"; do
    tool=${pair%%=*}
    formula=${pair#*=}
    if ((!LIVE_PROBES)); then
      say "not checked (dry run elsewhere): $tool (brew install $formula)"
    elif command -v "$tool" >/dev/null 2>&1; then
      say "ok: $tool is $(command -v "$tool")"
    else
      missing="$missing $formula"
    fi
  done
  [[ -z $missing ]] && return 0
  need_for_real_run "missing tools: as your admin user (not root), run: brew install${missing}"
}
