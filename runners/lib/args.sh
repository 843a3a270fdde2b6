# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# The options every runners/<kind>/provision.sh takes, and the device they are about.
# A kind adds its own options by defining `kind_option` (sets KIND_SHIFT to the number of
# words it used, 0 when the option is not its) and `kind_usage`.

DEVICE=""
MATRIX="$REPO_ROOT/matrix/farm.yml"
LABELS=""
TOOLCHAIN=stable
SCOPE=""
API_URL=https://api.github.com
TOKEN_FILE_ARG=""
RUNNER_TARBALL=""
RUNNER_URL=""
RUNNER_SHA256=""
RUNNER_GROUP_ID=1
RUN_USER=pte-farm
PYTHON=python3
PYTHON_VENV=""
TORCH_INDEX_URL=""
SKIP_PACKAGES=0
NO_RUNNER=0
KIND_SHIFT=0

# Filled by load_device from the matrix.
DEVICE_ARCH=""
DEVICE_BOARD=""
DEVICE_OS=""
DEVICE_DRIVER=""

common_usage() {
  cat <<EOF
Usage: runners/$KIND/provision.sh --device NAME (--repo OWNER/REPO | --org ORG) [options]

Provisions this machine as the farm device NAME (matrix/farm.yml): the pinned toolchain and an
ephemeral, just-in-time GitHub Actions runner with the device's labels. Run it again at any
time: it changes only what differs, and says so.

Where the runner registers:
  --repo OWNER/REPO        a repository runner (token: fine-grained, Administration: read and write)
  --org ORG                an organization runner (token: Self-hosted runners: read and write)
  --api-url URL            GitHub's REST API (default $API_URL; GHES: https://HOST/api/v3)
  --token-file FILE        the token, read from FILE ('-': stdin); or set PTE_FARM_GITHUB_TOKEN.
                           Stored root-only (mode 600); not needed again once stored.
  --runner-group-id N      runner group (default $RUNNER_GROUP_ID)
  --labels a,b,c           override the device's runs_on labels (must include self-hosted)
  --runner-tarball FILE    the actions/runner release archive for this OS and CPU, or
  --runner-url URL --runner-sha256 HEX   download it (the digest is in the release notes)
  --user NAME              the unprivileged user jobs run as (default $RUN_USER)
  --no-runner              install the toolchain only

Toolchain:
  --python PY              interpreter for the venv (default $PYTHON; 3.10 to 3.14)
  --python-venv DIR        use an existing venv that satisfies the pins (it is not modified)
  --torch-index-url URL    index for torch alone (e.g. https://download.pytorch.org/whl/cpu)
  --skip-packages          do not install system packages (install them yourself)

Where:
  --matrix FILE            the farm definition (default matrix/farm.yml of this checkout)
  --prefix DIR             install prefix (default $PREFIX)
  --root DIR               write every file under DIR instead of / (an image, or a test); acts
                           on no running system: packages, users and services are skipped
  --dry-run                print every action (commands, files with their content) and do none
EOF
  if declare -F kind_usage >/dev/null; then kind_usage; fi
}

# Refuses an option without its value (or followed by another option instead).
need_value() {
  [[ $# -ge 2 && -n $2 && $2 != --* ]] || die_config "$1 needs a value (see --help)"
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case $1 in
      --device) need_value "$@" && DEVICE=$2 && shift ;;
      --matrix) need_value "$@" && MATRIX=$2 && shift ;;
      --labels) need_value "$@" && LABELS=$2 && shift ;;
      --repo) need_value "$@" && SCOPE="repos/$2" && shift ;;
      --org) need_value "$@" && SCOPE="orgs/$2" && shift ;;
      --api-url) need_value "$@" && API_URL=$2 && shift ;;
      --token-file) need_value "$@" && TOKEN_FILE_ARG=$2 && shift ;;
      --token)
        die_config "--token would show the token in the process list; use --token-file FILE or PTE_FARM_GITHUB_TOKEN"
        ;;
      --runner-tarball) need_value "$@" && RUNNER_TARBALL=$2 && shift ;;
      --runner-url) need_value "$@" && RUNNER_URL=$2 && shift ;;
      --runner-sha256) need_value "$@" && RUNNER_SHA256=$2 && shift ;;
      --runner-group-id) need_value "$@" && RUNNER_GROUP_ID=$2 && shift ;;
      --user) need_value "$@" && RUN_USER=$2 && shift ;;
      --no-runner) NO_RUNNER=1 ;;
      --python) need_value "$@" && PYTHON=$2 && shift ;;
      --python-venv) need_value "$@" && PYTHON_VENV=$2 && shift ;;
      --torch-index-url) need_value "$@" && TORCH_INDEX_URL=$2 && shift ;;
      --skip-packages) SKIP_PACKAGES=1 ;;
      --prefix) need_value "$@" && PREFIX=$2 && shift ;;
      --root) need_value "$@" && ROOT=$2 && shift ;;
      --dry-run) DRY_RUN=1 ;;
      -h | --help)
        common_usage
        exit 0
        ;;
      *)
        KIND_SHIFT=0
        if declare -F kind_option >/dev/null; then kind_option "$@"; fi
        if ((KIND_SHIFT == 0)); then die_config "unknown option '$1' (see --help)"; fi
        shift $((KIND_SHIFT - 1))
        ;;
    esac
    shift
  done
  check_args
}

check_args() {
  # Kept as a plain shell variable: nothing this script starts (pip, cmake, an FVP installer)
  # inherits the token through its environment.
  TOKEN_FROM_ENV=${PTE_FARM_GITHUB_TOKEN:-}
  unset PTE_FARM_GITHUB_TOKEN
  [[ -n $DEVICE ]] || die_config "--device is required: the device's name in $MATRIX"
  [[ $DEVICE =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die_config "--device '$DEVICE': use a farm.yml device name (a-z, 0-9, . _ -)"
  [[ -f $MATRIX ]] || die_config "--matrix $MATRIX: no such file"
  # The prefix goes verbatim into unit command lines and a plist: no blanks, quotes or markup.
  [[ $PREFIX =~ ^/[A-Za-z0-9/._-]*$ ]] || die_config "--prefix must be an absolute path of letters, digits and / . _ -, not '$PREFIX'"
  [[ $ROOT == /* ]] || die_config "--root must be an absolute path, not '$ROOT'"
  [[ -d $ROOT ]] || die_config "--root $ROOT: no such directory"
  [[ $RUNNER_GROUP_ID =~ ^[0-9]+$ ]] || die_config "--runner-group-id must be a number, not '$RUNNER_GROUP_ID'"
  is_plain_word "$RUN_USER" || die_config "--user '$RUN_USER': letters, digits, . _ - only"
  if ((!NO_RUNNER)); then
    [[ -n $SCOPE ]] || die_config "say where the runner registers: --repo OWNER/REPO or --org ORG (or --no-runner)"
    [[ $SCOPE =~ ^(repos/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+|orgs/[A-Za-z0-9._-]+)$ ]] ||
      die_config "--repo takes OWNER/REPO and --org takes ORG, not '${SCOPE#*/}'"
    [[ $API_URL =~ ^https?://[^[:space:]]+$ ]] || die_config "--api-url '$API_URL' is not an http(s) URL"
    API_URL=${API_URL%/}
    RUNNER_SHA256=$(printf '%s' "$RUNNER_SHA256" | tr 'A-F' 'a-f')
    if [[ -n $RUNNER_SHA256 && ! $RUNNER_SHA256 =~ ^[0-9a-f]{64}$ ]]; then
      die_config "--runner-sha256 takes the 64 hex digits of a SHA-256, not '$RUNNER_SHA256'"
    fi
    if [[ -n $RUNNER_URL && -z $RUNNER_SHA256 ]]; then
      die_config "--runner-url needs --runner-sha256 (the digest GitHub publishes in the actions/runner release notes)"
    fi
    if [[ -n $RUNNER_TARBALL && ! -f $RUNNER_TARBALL ]]; then
      die_config "--runner-tarball $RUNNER_TARBALL: no such file"
    fi
  fi
  if ((!DRY_RUN)) && [[ $ROOT == / ]] && [[ "$(id -u)" != 0 ]]; then
    die_config "provisioning writes system files and services: run it with sudo (or try --dry-run)"
  fi
}

# Reads the device from the matrix and checks it is this kind's; sets LABELS when not given.
load_device() {
  local known
  if ! DEVICE_BOARD=$(matrix_field "$MATRIX" devices "$DEVICE" board); then
    known=$(matrix_entries "$MATRIX" devices | tr '\n' ' ')
    die_config "device '$DEVICE' is not in $MATRIX (devices: ${known% })"
  fi
  DEVICE_ARCH=$(matrix_field "$MATRIX" devices "$DEVICE" arch) || die_config "device $DEVICE has no arch in $MATRIX"
  DEVICE_OS=$(matrix_field "$MATRIX" devices "$DEVICE" os) || die_config "device $DEVICE has no os in $MATRIX"
  DEVICE_DRIVER=$(matrix_field "$MATRIX" devices "$DEVICE" driver) || die_config "device $DEVICE has no driver in $MATRIX"
  kind_accepts_device || die_config "device $DEVICE (board $DEVICE_BOARD, driver $DEVICE_DRIVER) is not a $KIND device: $KIND_DEVICES"
  ((NO_RUNNER)) && return 0
  local from="the --labels option"
  if [[ -z $LABELS ]]; then
    LABELS=$(matrix_field "$MATRIX" devices "$DEVICE" runs_on) || die_config "device $DEVICE has no runs_on in $MATRIX"
    from="runs_on of $DEVICE in $MATRIX"
  fi
  check_labels "$from"
}

# A self-hosted runner wearing only GitHub-hosted labels (ubuntu-24.04) would take jobs meant for
# GitHub's machines, fork pull requests included; the self-hosted label keeps the two apart.
check_labels() {
  local label has_self_hosted=0 rest=$LABELS
  while [[ -n $rest ]]; do
    label=${rest%%,*}
    [[ $rest == *,* ]] && rest=${rest#*,} || rest=""
    is_plain_word "$label" || die_config "label '$label' (from $1): letters, digits, . _ - only"
    [[ $label == self-hosted ]] && has_self_hosted=1
  done
  if ((!has_self_hosted)); then
    die_config "$DEVICE runs on [$LABELS] ($1): labels of GitHub-hosted machines. A self-hosted runner with them would take jobs meant for GitHub's runners, fork pull requests included. Give the device self-hosted labels in matrix/farm.yml (e.g. runs_on: [self-hosted, linux, X64, $DEVICE]) or pass --labels self-hosted,..."
  fi
}

# Whether this machine is the device's platform. A real run refuses another; a dry run goes on
# without probing the live system (LIVE_PROBES=0).
check_platform() {
  local want_os=$1 want_arch=$2 os arch
  os=$(os_name)
  arch=$(machine_arch)
  if [[ $os == "$want_os" && $arch == "$want_arch" ]]; then return 0; fi
  if ((DRY_RUN)); then
    LIVE_PROBES=0
    say "note: dry run on $os $arch for a $want_os $want_arch device: the live system is not probed; the plan assumes nothing is installed yet"
    return 0
  fi
  [[ $ROOT != / && $os == "$want_os" ]] && return 0
  die_config "$DEVICE is a $want_os $want_arch device, and this machine is $os $arch"
}
