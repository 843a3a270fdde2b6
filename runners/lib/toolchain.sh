# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# The pinned Python toolchain, installed as the repository's Makefile installs it: torch first,
# alone and by exact version (so nothing in the requirements can pull another torch build), then
# the toolchain's pins file. Whether a venv already satisfies the pins is asked of pip itself,
# offline (`pip install --dry-run --no-index`): it fails on any pin the venv does not hold.

TOOLCHAIN_PYTHON=""

# torch's pin is the toolchain's own line in its pins file (`make setup` reads the same line).
torch_pin() {
  local version
  version=$(pinned_version torch "$REQUIREMENTS")
  [[ -n $version ]] || die_config "no 'torch==X' line in $REQUIREMENTS"
  printf 'torch==%s' "$version"
}

# The toolchain's pins file (farm.yml toolchains.NAME.requirements), as an absolute path.
toolchain_requirements() {
  local rel
  rel=$(matrix_field "$MATRIX" toolchains "$TOOLCHAIN" requirements) ||
    die_config "toolchain '$TOOLCHAIN' has no requirements file in $MATRIX"
  [[ $rel == /* ]] || rel="$REPO_ROOT/$rel"
  [[ -f $rel ]] || die_config "toolchain $TOOLCHAIN: pins file $rel is missing"
  printf '%s' "$rel"
}

# The exact version a pins file gives a package (e.g. executorch==1.4.1 → 1.4.1).
pinned_version() {
  sed -n "s/^$1==\\([^ ;#]*\\).*/\\1/p" "$2" | sed -n 1p
}

# pins_satisfied PYTHON: whether that interpreter's environment holds every pin (read-only).
pins_satisfied() {
  "$1" -m pip install --dry-run --no-index --quiet "$TORCH_PIN" -r "$REQUIREMENTS" >/dev/null 2>&1
}

pins_problem() {
  "$1" -m pip install --dry-run --no-index --quiet "$TORCH_PIN" -r "$REQUIREMENTS" 2>&1 | grep -m 1 -i error || true
}

check_python_version() {
  local version
  if ((!LIVE_PROBES)); then
    say "not checked (dry run elsewhere): $PYTHON is Python 3.10 to 3.14"
    return 0
  fi
  if ! version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
    need_for_real_run "a Python 3.10 to 3.14 interpreter: '$PYTHON' does not run (pass --python)"
    return 0
  fi
  case $version in
    3.1[0-4]) say "ok: $PYTHON is Python $version" ;;
    *) die_config "$PYTHON is Python $version; torch and executorch need 3.10 to 3.14 (pass --python)" ;;
  esac
}

ensure_toolchain() {
  REQUIREMENTS=$(toolchain_requirements)
  TORCH_PIN=$(torch_pin)
  step "toolchain $TOOLCHAIN: $TORCH_PIN alone, then ${REQUIREMENTS#"$REPO_ROOT"/}"
  if [[ -n $PYTHON_VENV ]]; then
    [[ -x $PYTHON_VENV/bin/python ]] || die_config "--python-venv $PYTHON_VENV: no bin/python there"
    pins_satisfied "$PYTHON_VENV/bin/python" ||
      die_config "--python-venv $PYTHON_VENV does not hold the pins ($(pins_problem "$PYTHON_VENV/bin/python")); drop --python-venv to build the toolchain's own venv"
    say "ok: $PYTHON_VENV holds the pins (used as it is, never modified)"
    TOOLCHAIN_PYTHON="$PYTHON_VENV/bin/python"
    return 0
  fi
  local venv="$PREFIX/toolchains/$TOOLCHAIN"
  TOOLCHAIN_PYTHON="$venv/bin/python"
  if [[ $ROOT != / ]]; then
    die_config "a venv cannot be built under --root (a venv hard-codes its own path); pass --python-venv DIR to use an existing one"
  fi
  if [[ -x $venv/bin/python ]] && pins_satisfied "$venv/bin/python"; then
    say "ok: $venv holds the pins"
    return 0
  fi
  check_python_version
  run "$PYTHON" -m venv "$venv"
  run "$venv/bin/python" -m pip install --quiet --upgrade pip
  if [[ -n $TORCH_INDEX_URL ]]; then
    run "$venv/bin/python" -m pip install --quiet --index-url "$TORCH_INDEX_URL" "$TORCH_PIN"
  else
    run "$venv/bin/python" -m pip install --quiet "$TORCH_PIN"
  fi
  run "$venv/bin/python" -m pip install --quiet -r "$REQUIREMENTS"
  run "$venv/bin/python" -c "import torch, executorch, torchao, transformers; assert torch.__version__.startswith(\"${TORCH_PIN#torch==}\"), torch.__version__"
}
