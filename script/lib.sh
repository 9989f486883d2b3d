# Shared helpers of script/test, script/demo and .ci/run (sourced, not run).
# shellcheck shell=bash
REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
VENV=${VENV:-$REPO/.venv}
PYTHON=${PYTHON:-python3}

say() { echo "[skyfleet $(date +%T)] $*" >&2; }

# ensure_apt PKG...: install the Debian packages that are missing (one apt-get update per run).
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${missing[*]} (run as root, or install them first)"
    return 1
  fi
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_venv: .venv with the pinned test requirements and skyfleet installed editable; re-run pip only
# when a requirements file or pyproject.toml changed since the last successful install.
ensure_venv() {
  local stamp="$VENV/.skyfleet-installed" want
  want=$(cat "$REPO"/requirements/*.txt "$REPO/app/pyproject.toml" | sha256sum | cut -c1-16)
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  say "installing pinned requirements into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/requirements/test.txt" || return 1
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$REPO/app" || return 1
  echo "$want" >"$stamp"
}
