#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Provisions a Linux machine (x86_64 or arm64, with systemd) as a farm device of board host-cpu:
# the pinned Python toolchain for the python-runtime driver, and an ephemeral just-in-time
# GitHub runner as a systemd service. The Pi, the Mac and the FVP add their steps to this path.
set -euo pipefail
KIND=host
KIND_DEVICES="devices of board host-cpu"
# shellcheck source=../lib/provision.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/provision.sh"

kind_accepts_device() { [[ $DEVICE_BOARD == host-cpu && $DEVICE_OS == linux ]]; }

main() {
  parse_args "$@"
  load_device
  check_platform Linux "$DEVICE_ARCH"
  start_run
  runner_preflight
  apt_packages python3 python3-venv python3-dev curl git ca-certificates
  ((NO_RUNNER)) || ensure_run_user
  ensure_toolchain
  ensure_runner
  finish
}

main "$@"
