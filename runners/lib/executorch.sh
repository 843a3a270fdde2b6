# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# ExecuTorch's C++ side, built from the source of the exact version the toolchain pins: the LLM
# runner (llama_main) for the Pi and the Mac, the bare-metal executor runner for the FVP. Both
# builds follow ExecuTorch's own scripts at that version (Makefile `llama-cpu`;
# backends/arm/scripts/build_executor_runner.sh and examples/arm/run.sh).

EXECUTORCH_SRC_ARG=""
ET_SRC=""
ET_VERSION=""

executorch_option() {
  case $1 in
    --executorch-src) need_value "$@" && EXECUTORCH_SRC_ARG=$2 && KIND_SHIFT=2 ;;
  esac
}

executorch_usage() {
  cat <<'EOF'

ExecuTorch source (for the C++ runners):
  --executorch-src DIR     a checkout of the pinned version with its submodules (default: clone it
                           into PREFIX/src with git)
EOF
}

# A build stamp: rebuilt when the source version or the build's inputs change.
build_stamp_matches() {
  local stamp=$1 want=$2
  [[ -f "$(in_root "$stamp")" && "$(cat "$(in_root "$stamp")")" == "$want" ]]
}

ensure_executorch_src() {
  ET_VERSION=$(pinned_version executorch "$REQUIREMENTS")
  [[ -n $ET_VERSION ]] || die_config "no executorch==X pin in $REQUIREMENTS"
  step "ExecuTorch $ET_VERSION source"
  if [[ -n $EXECUTORCH_SRC_ARG ]]; then
    ET_SRC=$EXECUTORCH_SRC_ARG
    local found
    found=$(cat "$ET_SRC/version.txt" 2>/dev/null || true)
    [[ $found == "$ET_VERSION" ]] ||
      die_config "--executorch-src $ET_SRC is version ${found:-unknown (no version.txt)}, and the toolchain pins $ET_VERSION: check out v$ET_VERSION there (git checkout v$ET_VERSION && git submodule update --init --recursive)"
    say "ok: $ET_SRC is ExecuTorch $ET_VERSION (used as it is)"
    return 0
  fi
  ET_SRC="$PREFIX/src/executorch-$ET_VERSION"
  if [[ "$(cat "$(in_root "$ET_SRC")/version.txt" 2>/dev/null || true)" == "$ET_VERSION" ]]; then
    say "ok: $ET_SRC is ExecuTorch $ET_VERSION"
    return 0
  fi
  ensure_dir "$PREFIX/src" 755
  run git clone --quiet --depth 1 --branch "v$ET_VERSION" --recurse-submodules --shallow-submodules \
    https://github.com/pytorch/executorch.git "$(in_root "$ET_SRC")"
}

# A fixed PATH for builds (not whatever sudo passed on), the venv's bin first: ExecuTorch's CMake
# runs Python code generators that need its packages. build_path [DIR]: DIR goes second.
build_path() {
  local base=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  [[ $DEVICE_OS == macos ]] && base=/opt/homebrew/bin:$base
  printf '%s:%s%s' "$(dirname "$TOOLCHAIN_PYTHON")" "${1:+$1:}" "$base"
}

# llama_main, ExecuTorch's LLM runner: `make llama-cpu` at the pinned version, i.e. two CMake
# workflow presets (the libraries, then the runner against them).
ensure_llama_main() {
  ensure_executorch_src
  step "llama_main (ExecuTorch's LLM runner)"
  local bin="$ET_SRC/cmake-out/examples/models/llama/llama_main"
  local stamp="$PREFIX/toolchains/llama_main.stamp" want="executorch $ET_VERSION llm-release llama-release"
  if [[ -x "$(in_root "$bin")" ]] && build_stamp_matches "$stamp" "$want"; then
    say "ok: $bin built from ExecuTorch $ET_VERSION"
  else
    run_in "$(in_root "$ET_SRC")" env PATH="$(build_path "")" cmake --workflow --preset llm-release
    run_in "$(in_root "$ET_SRC")/examples/models/llama" env PATH="$(build_path "")" cmake --workflow --preset llama-release
    printf '%s\n' "$want" | write_file "$stamp" 644
  fi
  add_runner_env "PTE_FARM_LLAMA_MAIN=$bin"
  # The llama-main execute driver refuses a runner built from another ExecuTorch than the .pte's.
  add_runner_env "PTE_FARM_RUNNER_EXECUTORCH=$ET_VERSION"
}
