# Shared by scripts/run and scripts/test: make .venv (Python >= 3.11) and install the project.
# Usage: ensure_venv [extras]   e.g. ensure_venv test
# find_python: print a Python >= 3.11 ($PYTHON if set), or fail saying so.
find_python() {
  local py="${PYTHON:-}"
  if [ -z "$py" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
      if command -v "$candidate" >/dev/null 2>&1 &&
         "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        py="$candidate"; break
      fi
    done
  fi
  if [ -z "$py" ]; then
    echo "soulfra-supervisor needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    return 1
  fi
  echo "$py"
}

ensure_venv() {
  local extras="${1:-}"
  local py
  py="$(find_python)" || return 1
  if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $py" >&2
    "$py" -m venv .venv
  fi
  local spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  # Reinstall only when pyproject.toml or the extras changed.
  local stamp=".venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-${extras:-base}"
  if [ ! -f "$stamp" ]; then
    echo "installing soulfra-supervisor${extras:+ with [$extras]} into .venv" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
    touch "$stamp"
  fi
}
