#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Provisions an Apple M1 Mac as a farm device: the pinned toolchain, ExecuTorch's llama_main, an
# ephemeral just-in-time runner as a launchd daemon, and no sleep while on power.
set -euo pipefail
KIND=m1
KIND_DEVICES="devices of an apple-m board running macOS"
# shellcheck source=../lib/provision.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/provision.sh"

kind_accepts_device() { [[ $DEVICE_BOARD == apple-m* && $DEVICE_OS == macos ]]; }
kind_option() { executorch_option "$@"; }
kind_usage() { executorch_usage; }
PYTHON=python3.12

# A sleeping Mac drops its runner's connection and the job with it.
m1_no_sleep() {
  step "power: never sleep on AC power"
  if ((LIVE_PROBES)) && [[ "$(pmset -g custom 2>/dev/null | awk '/^AC Power/{ac=1} ac && $1=="sleep"{print $2; exit}')" == 0 ]]; then
    say "ok: sleep is off on AC power"
  else
    run_live pmset -c sleep 0 disksleep 0
  fi
}

main() {
  parse_args "$@"
  load_device
  check_platform Darwin arm64
  start_run
  runner_preflight
  if ((LIVE_PROBES)) && [[ "$(sysctl -n machdep.cpu.brand_string 2>/dev/null)" != "Apple M1"* ]]; then
    warn "this Mac's CPU is $(sysctl -n machdep.cpu.brand_string 2>/dev/null), not an Apple M1: its numbers will not match the m1 device's history"
  fi
  brew_tools "$PYTHON=python@3.12" cmake=cmake git=git
  m1_no_sleep
  ((NO_RUNNER)) || ensure_run_user
  ensure_toolchain
  ensure_llama_main
  ensure_runner
  finish
}

main "$@"
