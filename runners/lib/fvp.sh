# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# Arm Corstone FVPs: the simulator (from an archive the maintainer downloaded, under Arm's
# EULA), the arm-none-eabi toolchain, and ExecuTorch's bare-metal executor runner built for
# semihosting, so one runner ELF per target runs any .pte the FVP is handed. Install layout and
# build flags follow ExecuTorch's backends/arm/scripts (fvp_utils.sh, toolchain_utils.sh,
# build_executor_runner.sh) at the pinned version.

FVP_ARCHIVE=""
ACCEPT_EULA=0
ARM_TOOLCHAIN_ARCHIVE=""
SELECT_OPS=""
# BundleIO's tolerance for the runner's Test_result. The runner's default (0.01) is below one
# output quantum of the shipped CNNs (scale 0.039), while the farm's CNN gate allows one quantum,
# so a correct NPU result could print FAIL. Raise it for a model whose output scale is larger.
BUNDLE_ATOL=0.05
BUNDLE_RTOL=0.01

# Filled by fvp_target from the device's board (corstone-300-ethos-u55-128).
CORSTONE=""
NPU_TARGET=""
TARGET_CPU=""
SYSTEM_CONFIG=""
MEMORY_MODE=""
FVP_BINARY=""

# A tolerance as the runner's C source takes it (a float literal), or a configuration error.
check_tolerance() {
  [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] || die_config "$1 $2: expected a number such as 0.05"
}

fvp_option() {
  case $1 in
    --fvp-archive) need_value "$@" && FVP_ARCHIVE=$2 && KIND_SHIFT=2 ;;
    --accept-eula) ACCEPT_EULA=1 && KIND_SHIFT=1 ;;
    --arm-toolchain-archive) need_value "$@" && ARM_TOOLCHAIN_ARCHIVE=$2 && KIND_SHIFT=2 ;;
    --select-ops) need_value "$@" && SELECT_OPS=$2 && KIND_SHIFT=2 ;;
    --bundle-atol) need_value "$@" && check_tolerance "$1" "$2" && BUNDLE_ATOL=$2 && KIND_SHIFT=2 ;;
    --bundle-rtol) need_value "$@" && check_tolerance "$1" "$2" && BUNDLE_RTOL=$2 && KIND_SHIFT=2 ;;
    *) executorch_option "$@" ;;
  esac
}

fvp_usage() {
  cat <<'EOF'

Corstone FVP:
  --fvp-archive FILE       the FVP download for this device (FVP_Corstone_SSE-300_*.tgz or
                           FVP_Corstone_SSE-320_*.tgz from developer.arm.com)
  --accept-eula            accept Arm's EULA contained in the archive (or set
                           ARM_FVP_INSTALL_I_AGREE_TO_THE_CONTAINED_EULA=True)
  --arm-toolchain-archive FILE   Arm GNU Toolchain arm-none-eabi archive (ExecuTorch tests with
                           15.2.rel1); default: the distribution's gcc-arm-none-eabi package
  --select-ops LIST        portable kernels for the runner (build_executor_runner's --select_ops_list)
  --bundle-atol X          BundleIO absolute tolerance of the runner's Test_result (default 0.05:
                           about one output quantum of the shipped CNNs; ExecuTorch's default 0.01
                           is below one, and the farm's CNN gate allows one quantum)
  --bundle-rtol X          BundleIO relative tolerance (default 0.01)
EOF
  executorch_usage
}

# corstone-300-ethos-u55-128 → Corstone-300, ethos-u55-128, cortex-m55, and the system config and
# memory mode build_executor_runner.sh defaults to for that NPU.
fvp_target() {
  [[ $DEVICE_BOARD =~ ^corstone-(300|320)-(ethos-u(55|85)-[0-9]+)$ ]] ||
    die_config "board '$DEVICE_BOARD' of $DEVICE: expected corstone-300-ethos-u55-N or corstone-320-ethos-u85-N"
  CORSTONE=${BASH_REMATCH[1]}
  NPU_TARGET=${BASH_REMATCH[2]}
  case $NPU_TARGET in
    ethos-u55-*)
      TARGET_CPU=cortex-m55
      SYSTEM_CONFIG=Ethos_U55_High_End_Embedded
      MEMORY_MODE=Shared_Sram
      ;;
    ethos-u85-*)
      TARGET_CPU=cortex-m85
      SYSTEM_CONFIG=Ethos_U85_SYS_DRAM_Mid
      MEMORY_MODE=Dedicated_Sram_384KB
      ;;
  esac
}

fvp_installer_name() { printf 'FVP_Corstone_SSE-%s.sh' "$CORSTONE"; }

fvp_model_dir() {
  if [[ $(machine_arch) == arm64 ]]; then printf 'Linux64_armv8l_GCC-9.3'; else printf 'Linux64_GCC-9.3'; fi
}

# Stops before anything is installed unless the maintainer accepted Arm's EULA (the same
# variable ExecuTorch's examples/arm/setup.sh honours).
fvp_check_eula() {
  step "Arm EULA for the Corstone-$CORSTONE FVP"
  if ((ACCEPT_EULA)); then
    say "ok: accepted with --accept-eula"
  elif [[ ${ARM_FVP_INSTALL_I_AGREE_TO_THE_CONTAINED_EULA:-} == True ]]; then
    say "ok: accepted with ARM_FVP_INSTALL_I_AGREE_TO_THE_CONTAINED_EULA=True"
  else
    die_config "the Corstone-$CORSTONE FVP is licensed under Arm's End User License Agreement, which is inside the archive: read it by unpacking the archive and running ./$(fvp_installer_name) (it shows the EULA before installing), or at https://developer.arm.com/downloads/-/arm-ecosystem-fvps. To accept it, rerun with --accept-eula or with ARM_FVP_INSTALL_I_AGREE_TO_THE_CONTAINED_EULA=True. Nothing was installed."
  fi
}

fvp_dir() { printf '%s/fvp/corstone-%s' "$PREFIX" "$CORSTONE"; }

# The EULA, then the archive (before anything is installed): that it exists and is the
# Corstone this device simulates.
fvp_preflight() {
  fvp_check_eula
  if [[ -n $FVP_ARCHIVE ]]; then
    [[ -f $FVP_ARCHIVE ]] || die_config "--fvp-archive $FVP_ARCHIVE: no such file"
    archive_has "$FVP_ARCHIVE" "$(fvp_installer_name)" ||
      die_config "--fvp-archive $FVP_ARCHIVE has no $(fvp_installer_name): it is not the Corstone-$CORSTONE FVP that $DEVICE needs"
  elif [[ ! -f "$(in_root "$(fvp_dir)/.pte-farm-archive-sha256")" ]]; then
    need_for_real_run "--fvp-archive FILE: FVP_Corstone_SSE-${CORSTONE}_*_Linux64$([[ $(machine_arch) == arm64 ]] && printf _armv8l).tgz from https://developer.arm.com/downloads/-/arm-ecosystem-fvps"
  fi
  if [[ -n $ARM_TOOLCHAIN_ARCHIVE && ! -f $ARM_TOOLCHAIN_ARCHIVE ]]; then
    die_config "--arm-toolchain-archive $ARM_TOOLCHAIN_ARCHIVE: no such file"
  fi
  return 0
}

ensure_fvp() {
  local dir stamp digest staging
  dir=$(fvp_dir)
  FVP_BINARY="$dir/models/$(fvp_model_dir)/FVP_Corstone_SSE-$CORSTONE"
  [[ $CORSTONE == 300 ]] && FVP_BINARY="${FVP_BINARY}_Ethos-U55"
  stamp="$dir/.pte-farm-archive-sha256"
  step "Corstone-$CORSTONE FVP into $dir"
  if [[ -z $FVP_ARCHIVE ]]; then
    if [[ -f "$(in_root "$stamp")" ]]; then
      say "ok: installed from an archive with sha256 $(cat "$(in_root "$stamp")"); pass --fvp-archive to replace it"
    else
      say "[dry-run] would install the FVP from --fvp-archive"
    fi
  else
    digest=$(sha256_of "$FVP_ARCHIVE")
    if build_stamp_matches "$stamp" "$digest"; then
      say "ok: $dir is the archive with sha256 $digest"
    else
      staging="$PREFIX/fvp/.staging-$CORSTONE"
      ensure_dir "$staging" 700
      run tar -xzf "$FVP_ARCHIVE" -C "$(in_root "$staging")"
      run "$(in_root "$staging")/$(fvp_installer_name)" --i-agree-to-the-contained-eula --force \
        --destination "$(in_root "$dir")" --quiet --no-interactive
      run rm -rf "$(in_root "$staging")"
      printf '%s' "$digest" | write_file "$stamp" 644
    fi
  fi
  if ((!DRY_RUN)) && [[ ! -x "$(in_root "$FVP_BINARY")" ]]; then
    die_infra "the FVP installer ran, but there is no $FVP_BINARY"
  fi
  add_runner_path "$(dirname "$FVP_BINARY")"
  add_runner_env "PTE_FARM_FVP_CORSTONE_$CORSTONE=$FVP_BINARY"
  # Corstone-320 loads a Python library it ships (fvp_utils.sh's LD_LIBRARY_PATH fix-up).
  [[ $CORSTONE == 320 ]] && add_runner_env "LD_LIBRARY_PATH=$dir/python/lib"
  return 0
}

ARM_TOOLCHAIN_BIN=""

ensure_arm_toolchain() {
  step "arm-none-eabi toolchain"
  if [[ -n $ARM_TOOLCHAIN_ARCHIVE ]]; then
    local top digest dir stamp
    top=$(tar -tf "$ARM_TOOLCHAIN_ARCHIVE" 2>/dev/null || true)
    top=${top%%$'\n'*}
    top=${top#./}
    top=${top%%/*}
    [[ $top == arm-gnu-toolchain-*-arm-none-eabi ]] ||
      die_config "--arm-toolchain-archive $ARM_TOOLCHAIN_ARCHIVE is not an Arm GNU Toolchain arm-none-eabi archive (its top folder is '${top:-empty}')"
    digest=$(sha256_of "$ARM_TOOLCHAIN_ARCHIVE")
    dir="$PREFIX/arm-gnu-toolchain"
    stamp="$dir/$top/.pte-farm-archive-sha256"
    ARM_TOOLCHAIN_BIN="$dir/$top/bin"
    if build_stamp_matches "$stamp" "$digest"; then
      say "ok: $dir/$top is the archive with sha256 $digest"
    else
      ensure_dir "$dir" 755
      run tar -xf "$ARM_TOOLCHAIN_ARCHIVE" -C "$(in_root "$dir")"
      printf '%s' "$digest" | write_file "$stamp" 644
    fi
    add_runner_path "$ARM_TOOLCHAIN_BIN"
  else
    # newlib for the C library and semihosting (rdimon.specs), its libstdc++ for the C++ runner.
    apt_packages gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
    ARM_TOOLCHAIN_BIN=""
    if ((LIVE_PROBES)) && command -v arm-none-eabi-gcc >/dev/null 2>&1; then
      local version
      version=$(arm-none-eabi-gcc -dumpversion)
      say "note: the distribution's arm-none-eabi-gcc is $version; ExecuTorch $(pinned_version executorch "$REQUIREMENTS") is tested with the Arm GNU Toolchain 15.2.rel1 (--arm-toolchain-archive)"
    fi
  fi
}

# ExecuTorch's arm_executor_runner for this device's NPU, built once per source version and
# flags: the CMake configure of examples/arm/run.sh with build_executor_runner.sh's defaults,
# semihosting so the .pte is read from the host at run time.
ensure_executor_runner() {
  step "arm_executor_runner for $NPU_TARGET ($TARGET_CPU, $SYSTEM_CONFIG, $MEMORY_MODE)"
  local build="$PREFIX/executor-runner/$NPU_TARGET" elf
  # Where the standalone project puts it (examples/arm/run.sh's locate_runner_binary).
  elf="$build/examples/arm/executor_runner/arm_executor_runner"
  local args=(
    -S "$(in_root "$ET_SRC")/examples/arm/executor_runner/standalone"
    -B "$(in_root "$build")"
    -DEXECUTORCH_ROOT="$(in_root "$ET_SRC")"
    -DCMAKE_TOOLCHAIN_FILE="$(in_root "$ET_SRC")/examples/arm/ethos-u-setup/arm-none-eabi-gcc.cmake"
    -DCMAKE_BUILD_TYPE=Release
    -DEXECUTORCH_BUILD_ARM_BAREMETAL=ON
    -DEXECUTORCH_BUILD_CORTEX_M=ON
    -DEXECUTORCH_BUILD_KERNELS_QUANTIZED=ON
    -DEXECUTORCH_BUILD_EXTENSION_RUNNER_UTIL=ON
    -DEXECUTORCH_BUILD_PRESET_FILE="$(in_root "$ET_SRC")/tools/cmake/preset/arm_baremetal.cmake"
    -DEXECUTORCH_BAREMETAL_SKIP_INSTALL=OFF
    -DETHOSU_TARGET_NPU_CONFIG="$NPU_TARGET"
    -DTARGET_CPU="$TARGET_CPU"
    -DSYSTEM_CONFIG="$SYSTEM_CONFIG"
    -DMEMORY_MODE="$MEMORY_MODE"
    -DETHOS_SDK_PATH:PATH="$(in_root "$PREFIX/src/ethos-u")"
    -DSEMIHOSTING=ON
    -DET_BUNDLE_IO=ON
    -DET_ATOL="$BUNDLE_ATOL"
    -DET_RTOL="$BUNDLE_RTOL"
    -DEXECUTORCH_BUILD_DEVTOOLS=OFF
    -DEXECUTORCH_ENABLE_EVENT_TRACER=OFF
    -DEXECUTORCH_SELECT_OPS_LIST="$SELECT_OPS"
    -DPYTHON_EXECUTABLE="$TOOLCHAIN_PYTHON"
  )
  local want
  want="executorch $ET_VERSION $(printf '%s ' "${args[@]}" | sha256_stdin)"
  if [[ -f "$(in_root "$elf")" ]] && build_stamp_matches "$build/.pte-farm-build" "$want"; then
    say "ok: $elf built from ExecuTorch $ET_VERSION with these flags"
  else
    local path
    path=$(build_path "$ARM_TOOLCHAIN_BIN")
    run env PATH="$path" cmake "${args[@]}"
    run env PATH="$path" cmake --build "$(in_root "$build")" --parallel --target arm_executor_runner
    if ((!DRY_RUN)) && [[ ! -f "$(in_root "$elf")" ]]; then
      die_infra "the build finished without $elf ($(find "$(in_root "$build")" -name 'arm_executor_runner*' -type f | head -n 3 | tr '\n' ' '))"
    fi
    printf '%s\n' "$want" | write_file "$build/.pte-farm-build" 644
  fi
  local key
  key=$(printf '%s' "$NPU_TARGET" | tr 'a-z-' 'A-Z_')
  add_runner_env "PTE_FARM_ARM_EXECUTOR_RUNNER_$key=$elf"
  # What the fvp execute driver reads (actions/src/drivers/fvp/driver.ts): this device's runner,
  # built with BundleIO so it prints Test_result, and the ExecuTorch release it was built from.
  add_runner_env "PTE_FARM_FVP_RUNNER=$elf"
  add_runner_env "PTE_FARM_RUNNER_EXECUTORCH=$ET_VERSION"
}
