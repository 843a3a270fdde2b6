# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# Raspberry Pi 5: steady clocks and a working fan. A Pi 5 without an active cooler throttles
# under sustained load (from 80 °C), and a throttled board reports slowdowns that are not the
# model's, which is exactly the false regression the farm must not raise.

ALLOW_PASSIVE_COOLING=0
# The Pi 5's fan first turns on at 50 °C; an idle board above this needs a spinning fan.
FAN_ON_C=50
# An idle board hotter than this is badly cooled, fan or not.
IDLE_MAX_C=60

pi_model() {
  local file="$SYSFS/firmware/devicetree/base/model"
  [[ -r $file ]] && tr -d '\0' <"$file"
}

pi_check_board() {
  step "board"
  local model
  model=$(pi_model || true)
  if [[ $model == "Raspberry Pi 5"* ]]; then
    say "ok: $model"
  elif ((DRY_RUN)); then
    say "note: this is not a Raspberry Pi 5 (${model:-no device-tree model under $SYSFS}); planning anyway"
  else
    die_config "this is not a Raspberry Pi 5 (${model:-no device-tree model under $SYSFS/firmware/devicetree/base/model})"
  fi
}

# The governor persists through a oneshot unit (Raspberry Pi OS has no cpufrequtils), and is
# also set now, so the first job after provisioning already runs at full clocks.
pi_governor_unit_text() {
  cat <<'EOF'
# Written by runners/pi5/provision.sh: steady clocks, so benchmark samples are comparable.
[Unit]
Description=pte-farm: CPU frequency governor "performance" on every core
After=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for g in /sys/devices/system/cpu/cpufreq/policy*/scaling_governor; do echo performance > "$$g"; done'

[Install]
WantedBy=multi-user.target
EOF
}

pi_governor() {
  step "CPU governor: performance"
  local policy found=0
  for policy in "$SYSFS"/devices/system/cpu/cpufreq/policy*; do
    [[ -r $policy/scaling_governor ]] || continue
    found=1
    if ! grep -qw performance "$policy/scaling_available_governors" 2>/dev/null; then
      die_config "$policy offers no performance governor ($(cat "$policy/scaling_available_governors" 2>/dev/null))"
    fi
    set_sysfs "$policy/scaling_governor" performance
  done
  if ((!found)); then
    if ((DRY_RUN)); then
      say "note: no cpufreq policies under $SYSFS/devices/system/cpu/cpufreq; planning the unit only"
    else
      die_config "no cpufreq policies under $SYSFS/devices/system/cpu/cpufreq: is this kernel's cpufreq driver loaded?"
    fi
  fi
  pi_governor_unit_text | install_systemd_unit pte-farm-cpufreq-performance.service "the governor is already set above"
}

# The fastest fan tachometer, in rpm (0 when none reads).
pi_fan_rpm() {
  local input rpm max=0
  for input in "$SYSFS"/class/hwmon/hwmon*/fan*_input; do
    [[ -r $input ]] || continue
    rpm=$(cat "$input")
    [[ $rpm =~ ^[0-9]+$ ]] && ((rpm > max)) && max=$rpm
  done
  printf '%s' "$max"
}

pi_fan_devices() {
  local dev type out=""
  for dev in "$SYSFS"/class/thermal/cooling_device*; do
    [[ -r $dev/type ]] || continue
    type=$(cat "$dev/type")
    case $type in *fan*) out="$out${out:+, }$(basename "$dev") ($type)" ;; esac
  done
  printf '%s' "$out"
}

pi_cooling_types() {
  local dev out=""
  for dev in "$SYSFS"/class/thermal/cooling_device*; do
    [[ -r $dev/type ]] && out="$out${out:+, }$(cat "$dev/type")"
  done
  printf '%s' "${out:-none}"
}

# Refuses a board without an active cooler unless --allow-passive-cooling.
pi_cooling() {
  step "cooling: an active cooler, and an idle temperature below $IDLE_MAX_C °C"
  local fans rpm milli temp problem=""
  fans=$(pi_fan_devices)
  rpm=$(pi_fan_rpm)
  milli=$(cat "$SYSFS/class/thermal/thermal_zone0/temp" 2>/dev/null || true)
  [[ $milli =~ ^-?[0-9]+$ ]] || die_config "cannot read the SoC temperature ($SYSFS/class/thermal/thermal_zone0/temp)"
  temp=$((milli / 1000))
  if [[ -z $fans ]]; then
    problem="no active cooler: no fan among the cooling devices ($(pi_cooling_types))"
  elif ((rpm == 0 && temp >= FAN_ON_C)); then
    problem="a fan is registered ($fans) but reads 0 rpm at $temp °C, where it should spin: is it plugged into the fan header?"
  elif ((temp >= IDLE_MAX_C)); then
    problem="the board idles at $temp °C (fan: $fans, $rpm rpm); under load it will throttle"
  fi
  if [[ -z $problem ]]; then
    if ((rpm > 0)); then
      say "ok: active cooler $fans at $rpm rpm; SoC at $temp °C"
    else
      say "ok: active cooler $fans (off while the SoC is at $temp °C, below its $FAN_ON_C °C start)"
    fi
    return 0
  fi
  if ((ALLOW_PASSIVE_COOLING)); then
    warn "$problem; going on because of --allow-passive-cooling (the health check will watch for throttling)"
    return 0
  fi
  die_config "$problem. A Pi 5 without a working fan throttles under sustained load, and its benchmarks then show slowdowns that are not the model's. Fit the Raspberry Pi Active Cooler (or a fan on the fan header) and rerun, or pass --allow-passive-cooling to register it anyway."
}

pi_option() {
  case $1 in
    --allow-passive-cooling) ALLOW_PASSIVE_COOLING=1 && KIND_SHIFT=1 ;;
    --sysfs) need_value "$@" && SYSFS=$2 && KIND_SHIFT=2 ;;
  esac
}

pi_usage() {
  cat <<'EOF'

Raspberry Pi 5:
  --allow-passive-cooling  register a board without a working fan (benchmarks may throttle)
  --sysfs DIR              read the board's sysfs from DIR instead of /sys (for checking a plan)
EOF
}
