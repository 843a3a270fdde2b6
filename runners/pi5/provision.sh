#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Provisions a Raspberry Pi 5 (Raspberry Pi OS, 64-bit) as a farm device: the host path (pinned
# toolchain, ephemeral just-in-time runner under systemd) plus steady clocks, a cooling check,
# and ExecuTorch's llama_main for the llama-main driver.
set -euo pipefail
KIND=pi5
KIND_DEVICES="devices of a raspberry-pi-5 board"
# shellcheck source=../lib/provision.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/provision.sh"

kind_accepts_device() { [[ $DEVICE_BOARD == raspberry-pi-5* && $DEVICE_OS == linux ]]; }
kind_option() {
  pi_option "$@"
  ((KIND_SHIFT > 0)) || executorch_option "$@"
}
kind_usage() {
  pi_usage
  executorch_usage
}
# vcgencmd (throttle history, for the health check) needs the video group.
RUN_USER_GROUPS=video

main() {
  parse_args "$@"
  load_device
  check_platform Linux arm64
  start_run
  pi_check_board
  pi_cooling
  runner_preflight
  apt_packages python3 python3-venv python3-dev curl git ca-certificates build-essential cmake
  pi_governor
  ((NO_RUNNER)) || ensure_run_user
  ensure_toolchain
  ensure_llama_main
  ensure_runner
  finish
}

main "$@"
