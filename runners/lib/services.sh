# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# Services: systemd units on Linux, a launchd daemon on macOS. The unit and plist texts are plain
# functions of the options, printed whole by --dry-run.

runner_unit_name() { printf 'pte-farm-runner-%s.service' "$DEVICE"; }
launchd_label() { printf 'dev.pte-farm.runner.%s' "$DEVICE"; }

# The runner's unit. Every start asks for a fresh just-in-time config (ExecStartPre, as root: "+"
# lifts User= for that command alone), the runner takes one job and exits, and Restart=always
# starts the next. Changing this unit takes effect at the next start, never mid-job.
runner_unit_text() {
  local jit="%t/pte-farm-runner-$DEVICE/jitconfig" tool="$PREFIX/bin/pte-farm-runner" conf
  conf=$(instance_conf)
  cat <<EOF
# Written by runners/$KIND/provision.sh: rerun it to change this unit.
[Unit]
Description=pte-farm device $DEVICE: one ephemeral GitHub Actions runner per job
Wants=network-online.target
After=network-online.target
# Restarting after every job is the normal cycle, so starts are not rate-limited.
StartLimitIntervalSec=0

[Service]
Type=simple
User=$RUN_USER
WorkingDirectory=$(runner_dir)
RuntimeDirectory=pte-farm-runner-$DEVICE
RuntimeDirectoryMode=0700
ExecStartPre=+$tool jitconfig $conf $jit
ExecStart=$tool run $conf $jit
Restart=always
RestartSec=15
KillMode=control-group
TimeoutStopSec=120
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
ProtectHome=yes

[Install]
WantedBy=multi-user.target
EOF
}

# install_systemd_unit NAME [live-note] < UNIT: writes, enables and starts it. A running service
# whose unit changed is not restarted (a runner would lose its job); the note says when it applies.
install_systemd_unit() {
  local unit=$1 note=${2:-} changed wants
  write_file "/etc/systemd/system/$unit" 644
  changed=$LAST_WRITE_CHANGED
  wants="/etc/systemd/system/multi-user.target.wants/$unit"
  if ((changed)); then run_live systemctl daemon-reload; fi
  if [[ -L "$(in_root "$wants")" ]]; then
    say "ok: $unit enabled"
  elif [[ $ROOT == / ]]; then
    run systemctl --quiet enable "$unit"
  else
    # Offline: systemctl writes the [Install] symlinks into the tree, as on the machine.
    run systemctl --quiet --root="$ROOT" enable "$unit"
  fi
  if [[ $ROOT != / ]]; then
    say "skip (--root): systemctl start $unit"
  elif ((LIVE_PROBES)) && systemctl is-active --quiet "$unit" 2>/dev/null; then
    if ((changed)); then say "note: $unit is running; ${note:-restart it to apply the change}"; else say "ok: $unit running"; fi
  else
    run_live systemctl start "$unit"
  fi
}

install_systemd_runner() {
  runner_unit_text | install_systemd_unit "$(runner_unit_name)" "the change applies at its next start, after the current job"
}

# The daemon runs as root (it alone reads the token) and drops to the run user for the runner
# itself (pte-farm-runner once); KeepAlive starts the next runner when one exits after its job.
runner_plist_text() {
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by runners/$KIND/provision.sh: rerun it to change this file. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>$(launchd_label)</string>
  <key>ProgramArguments</key>
  <array>
    <string>/bin/bash</string>
    <string>$PREFIX/bin/pte-farm-runner</string>
    <string>once</string>
    <string>$(instance_conf)</string>
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <true/>
  <key>ThrottleInterval</key>
  <integer>15</integer>
  <key>StandardOutPath</key>
  <string>/var/log/pte-farm-runner-$DEVICE.log</string>
  <key>StandardErrorPath</key>
  <string>/var/log/pte-farm-runner-$DEVICE.log</string>
  <key>EnvironmentVariables</key>
  <dict>
    <key>PATH</key>
    <string>/usr/bin:/bin:/usr/sbin:/sbin</string>
  </dict>
</dict>
</plist>
EOF
}

install_launchd_runner() {
  local label plist changed
  label=$(launchd_label)
  plist="/Library/LaunchDaemons/$label.plist"
  runner_plist_text | write_file "$plist" 644
  changed=$LAST_WRITE_CHANGED
  if [[ $ROOT != / ]]; then
    say "skip (--root): launchctl bootstrap system $plist"
  elif ((LIVE_PROBES)) && launchctl print "system/$label" >/dev/null 2>&1; then
    if ((changed)); then
      say "note: $label is loaded; to apply the new plist when the board is idle: sudo launchctl bootout system/$label && sudo launchctl bootstrap system $plist"
    else
      say "ok: $label loaded"
    fi
  else
    run_live launchctl bootstrap system "$plist"
  fi
}
