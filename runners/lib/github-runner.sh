# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# The GitHub side of a device: the run user, the actions/runner binary, the configuration that
# pte-farm-runner reads at every start, the root-only token, and the service that starts it.
# Nothing here registers a runner: the service does, once per job (pte-farm-runner.sh).

# Extra lines for the runner's .env (KEY=VALUE, newline-separated) and PATH entries (colon-
# separated), added by a kind before ensure_runner: the FVP's and toolchain's locations.
RUNNER_ENV_EXTRA=""
RUNNER_PATH_EXTRA=""

TOKEN_VALUE=""

instance_conf() { printf '%s/%s.conf' "$ETC_DIR" "$DEVICE"; }
instance_token() { printf '%s/%s.token' "$ETC_DIR" "$DEVICE"; }
runner_dir() { printf '%s/runners/%s' "$PREFIX" "$DEVICE"; }

add_runner_env() { RUNNER_ENV_EXTRA="$RUNNER_ENV_EXTRA$1"$'\n'; }
add_runner_path() { RUNNER_PATH_EXTRA="$RUNNER_PATH_EXTRA${RUNNER_PATH_EXTRA:+:}$1"; }

# The token comes from --token-file or PTE_FARM_GITHUB_TOKEN; without either, a stored one is kept.
read_token() {
  if [[ -n $TOKEN_FILE_ARG ]]; then
    if [[ $TOKEN_FILE_ARG == - ]]; then
      TOKEN_VALUE=$(tr -d ' \t\r\n')
    else
      [[ -r $TOKEN_FILE_ARG ]] || die_config "--token-file $TOKEN_FILE_ARG: cannot read it"
      TOKEN_VALUE=$(tr -d ' \t\r\n' <"$TOKEN_FILE_ARG")
    fi
  else
    TOKEN_VALUE=$TOKEN_FROM_ENV
  fi
  if [[ -n $TOKEN_VALUE && ! $TOKEN_VALUE =~ ^[A-Za-z0-9_.-]+$ ]]; then
    die_config "the token given is not a GitHub token (letters, digits and _ . - only); its value is not shown"
  fi
}

ensure_run_user() {
  step "run user $RUN_USER: jobs run as it, never as root"
  [[ $RUN_USER == root ]] && die_config "--user root: jobs would run as root and could read the token; pick an unprivileged user"
  if [[ $ROOT != / ]]; then
    say "skip (--root): user $RUN_USER exists on the running system only"
    return 0
  fi
  if ((LIVE_PROBES)) && id "$RUN_USER" >/dev/null 2>&1; then
    say "ok: user $RUN_USER exists"
  elif [[ $(os_name) == Darwin || $DEVICE_OS == macos ]]; then
    need_for_real_run "a standard user for jobs: sudo sysadminctl -addUser $RUN_USER -fullName 'pte-farm runner' -password - (then rerun)"
  else
    run_live useradd --system --create-home --home-dir "/var/lib/$RUN_USER" --shell /usr/sbin/nologin "$RUN_USER"
  fi
  local group
  for group in ${RUN_USER_GROUPS:-}; do
    if ((LIVE_PROBES)) && [[ " $(id -nG "$RUN_USER" 2>/dev/null) " == *" $group "* ]]; then
      say "ok: $RUN_USER is in group $group"
    else
      run_live usermod -aG "$group" "$RUN_USER"
    fi
  done
}

# The actions/runner release, extracted once per archive digest.
ensure_runner_binary() {
  local dir stamp archive digest
  dir=$(runner_dir)
  stamp="$dir/.pte-farm-runner-sha256"
  ensure_dir "$dir" 755
  if [[ -n $RUNNER_TARBALL ]]; then
    archive=$RUNNER_TARBALL
    digest=$(sha256_of "$archive")
    if [[ -n $RUNNER_SHA256 && $digest != "$RUNNER_SHA256" ]]; then
      die_config "--runner-tarball $archive has sha256 $digest, not the --runner-sha256 $RUNNER_SHA256 given"
    fi
  elif [[ -n $RUNNER_URL ]]; then
    digest=$RUNNER_SHA256
    archive="$PREFIX/cache/actions-runner-$digest.tar.gz"
    if [[ -f "$(in_root "$archive")" && "$(sha256_of "$(in_root "$archive")")" == "$digest" ]]; then
      say "ok: $archive already downloaded"
    else
      ensure_dir "$PREFIX/cache" 755
      run curl -fsSL --retry 3 -o "$(in_root "$archive")" "$RUNNER_URL"
      if ((!DRY_RUN)) && [[ "$(sha256_of "$(in_root "$archive")")" != "$digest" ]]; then
        rm -f "$(in_root "$archive")"
        die_infra "$RUNNER_URL does not have sha256 $digest; the download was deleted"
      fi
    fi
    archive=$(in_root "$archive")
  elif [[ -f "$(in_root "$stamp")" ]]; then
    say "ok: runner already in $dir (sha256 $(cat "$(in_root "$stamp")")); pass --runner-tarball to replace it"
    ensure_dir "$dir" 755 "$RUN_USER"
    return 0
  else
    say "[dry-run] would install the actions/runner release given by --runner-tarball or --runner-url"
    return 0
  fi
  if [[ -f "$(in_root "$stamp")" && "$(cat "$(in_root "$stamp")")" == "$digest" ]]; then
    say "ok: runner in $dir is the archive with sha256 $digest"
    ensure_dir "$dir" 755 "$RUN_USER"
    return 0
  fi
  run tar -xzf "$archive" -C "$(in_root "$dir")"
  printf '%s' "$digest" | write_file "$stamp" 644
  # Extracted as root: every file, old or new, goes to the job user (the runner writes beside them).
  run_live chown -R "$RUN_USER" "$dir"
  if [[ $DEVICE_OS == linux && -f "$(in_root "$dir")/bin/installdependencies.sh" ]]; then
    run_live "$dir/bin/installdependencies.sh"
  fi
}

# The environment every job gets: the runner loads its .env at start (Runner.Listener), and only
# its service wrapper reads .path, so PATH goes here too.
runner_env_text() {
  local base_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  [[ $DEVICE_OS == macos ]] && base_path=/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
  printf 'LANG=C.UTF-8\n'
  printf 'PATH=%s\n' "${RUNNER_PATH_EXTRA:+$RUNNER_PATH_EXTRA:}$base_path"
  printf 'PTE_FARM_DEVICE=%s\n' "$DEVICE"
  printf 'PTE_FARM_TOOLCHAIN=%s\n' "$TOOLCHAIN"
  printf 'PTE_FARM_PYTHON=%s\n' "$TOOLCHAIN_PYTHON"
  printf '%s' "$RUNNER_ENV_EXTRA"
}

# What pte-farm-runner reads at every start. No secret: the token is in TOKEN_FILE.
runner_conf_text() {
  local host
  host=$(hostname -s 2>/dev/null || hostname)
  # GitHub caps runner names at 64 characters; the start adds a 14-digit time and a pid.
  host=$(printf '%s' "$host" | tr -c 'A-Za-z0-9-' '-' | cut -c 1-16)
  cat <<EOF
# pte-farm runner for device $DEVICE, written by runners/$KIND/provision.sh (rerun it to change this).
# Read by $PREFIX/bin/pte-farm-runner at every start; the token is in TOKEN_FILE (root only).
API_URL=$API_URL
SCOPE=$SCOPE
RUNNER_GROUP_ID=$RUNNER_GROUP_ID
LABELS=$LABELS
NAME_PREFIX=$DEVICE-${host%-}
RUNNER_DIR=$(runner_dir)
RUN_USER=$RUN_USER
TOKEN_FILE=$(instance_token)
EOF
}

# runner_tool ARGS...: pte-farm-runner from this checkout, on the tree being provisioned.
runner_tool() {
  if [[ $ROOT == / ]]; then
    bash "$PTE_FARM_LIB_DIR/pte-farm-runner.sh" "$@"
  else
    PTE_FARM_ROOT=$ROOT bash "$PTE_FARM_LIB_DIR/pte-farm-runner.sh" "$@"
  fi
}

# Before anything is installed: a real run that lacks an input stops here, not halfway.
runner_preflight() {
  ((NO_RUNNER)) && return 0
  read_token
  if [[ -z $TOKEN_VALUE && ! -f "$(in_root "$(instance_token)")" ]]; then
    need_for_real_run "a GitHub token that can manage self-hosted runners: --token-file FILE or PTE_FARM_GITHUB_TOKEN"
  fi
  if [[ -n $RUNNER_TARBALL ]]; then
    archive_has "$RUNNER_TARBALL" run.sh ||
      die_config "--runner-tarball $RUNNER_TARBALL is not an actions/runner release (no run.sh at its top)"
  elif [[ -z $RUNNER_URL && ! -f "$(in_root "$(runner_dir)/.pte-farm-runner-sha256")" ]]; then
    need_for_real_run "the actions/runner release for this board: --runner-tarball FILE, or --runner-url URL --runner-sha256 HEX (https://github.com/actions/runner/releases)"
  fi
  return 0
}

ensure_runner() {
  ((NO_RUNNER)) && return 0
  step "GitHub runner: ephemeral and just-in-time, for $SCOPE, labels $LABELS"
  ensure_dir "$PREFIX/bin" 755
  install_file "$PTE_FARM_LIB_DIR/pte-farm-runner.sh" "$PREFIX/bin/pte-farm-runner" 755
  ensure_runner_binary
  runner_env_text | write_file "$(runner_dir)/.env" 644
  ensure_dir "$ETC_DIR" 755
  runner_conf_text | write_file "$(instance_conf)" 644
  if [[ -n $TOKEN_VALUE ]]; then
    printf '%s\n' "$TOKEN_VALUE" | write_file "$(instance_token)" 600 secret
  elif [[ -f "$(in_root "$(instance_token)")" ]]; then
    say "ok: token kept in $(instance_token) (pass --token-file to replace it)"
  else
    say "[dry-run] would write $(instance_token) (mode 600) from --token-file or PTE_FARM_GITHUB_TOKEN"
  fi
  if ((DRY_RUN)); then
    say "[dry-run] would check the token: GET $API_URL/$SCOPE/actions/runners?per_page=1"
  else
    runner_tool check "$(instance_conf)" || exit $?
  fi
  if [[ $DEVICE_OS == macos ]]; then
    install_launchd_runner
  else
    install_systemd_runner
  fi
}
