# shellcheck shell=bash
# Everything a runners/<kind>/provision.sh needs, in one `source`.
# shellcheck source-path=SCRIPTDIR
_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$_lib/common.sh"
# shellcheck source=SCRIPTDIR/../lib/effects.sh
. "$_lib/effects.sh"
# shellcheck source=SCRIPTDIR/../lib/matrix.sh
. "$_lib/matrix.sh"
# shellcheck source=SCRIPTDIR/../lib/args.sh
. "$_lib/args.sh"
# shellcheck source=SCRIPTDIR/../lib/packages.sh
. "$_lib/packages.sh"
# shellcheck source=SCRIPTDIR/../lib/toolchain.sh
. "$_lib/toolchain.sh"
# shellcheck source=SCRIPTDIR/../lib/services.sh
. "$_lib/services.sh"
# shellcheck source=SCRIPTDIR/../lib/github-runner.sh
. "$_lib/github-runner.sh"
# shellcheck source=SCRIPTDIR/../lib/executorch.sh
. "$_lib/executorch.sh"
# shellcheck source=SCRIPTDIR/../lib/pi.sh
. "$_lib/pi.sh"
# shellcheck source=SCRIPTDIR/../lib/fvp.sh
. "$_lib/fvp.sh"
unset _lib

# The run's header: what, where, and whether anything happens. Each kind then checks what a
# real run cannot do without (runner_preflight and its own), so it stops before installing
# anything, not halfway.
start_run() {
  say "pte-farm provisioning: $KIND device $DEVICE"
  ((DRY_RUN)) && say "dry run: every action is printed, none is taken"
  [[ $ROOT != / ]] && say "root: $ROOT (files are written under it; the running system is left alone)"
  say "prefix: $PREFIX"
}
