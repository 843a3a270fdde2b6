#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Provisions a Linux machine as a Corstone FVP farm device: Arm's FVP (from the maintainer's
# archive, after explicit EULA acceptance), the arm-none-eabi toolchain, ExecuTorch's bare-metal
# executor runner for the device's NPU, the pinned toolchain, and an ephemeral runner.
set -euo pipefail
KIND=corstone-fvp
KIND_DEVICES="devices with the fvp driver"
# shellcheck source=../lib/provision.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/provision.sh"

kind_accepts_device() { [[ $DEVICE_DRIVER == fvp ]]; }
kind_option() { fvp_option "$@"; }
kind_usage() { fvp_usage; }

main() {
  parse_args "$@"
  load_device
  fvp_target
  # The FVP simulates the board: it runs on an x86_64 or arm64 Linux host.
  check_platform Linux "$(machine_arch)"
  start_run
  fvp_preflight
  runner_preflight
  apt_packages python3 python3-venv python3-dev curl git ca-certificates build-essential cmake
  ((NO_RUNNER)) || ensure_run_user
  ensure_toolchain
  ensure_fvp
  ensure_arm_toolchain
  ensure_executorch_src
  ensure_executor_runner
  ensure_runner
  finish
}

main "$@"
