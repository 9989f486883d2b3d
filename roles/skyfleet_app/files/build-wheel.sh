#!/usr/bin/env bash
# Build the skyfleet wheel on the Ansible controller, once per source tree: the wheel is cached
# under a hash of the sources, and built reproducibly (fixed SOURCE_DATE_EPOCH), so an unchanged
# tree gives a byte-identical wheel and the hosts see nothing to update.
#   usage: build-wheel.sh SOURCE_DIR PYTHON      prints the wheel's path
set -euo pipefail
src=$(cd "$1" && pwd)
python=${2:-python3}
[ -f "$src/pyproject.toml" ] || { echo "build-wheel: $src has no pyproject.toml" >&2; exit 2; }

# files that are not build artifacts, sorted, hashed with their names
hash=$(cd "$src" && find . \( -name build -o -name dist -o -name '*.egg-info' -o -name __pycache__ \) -prune -o \
         -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
cache=${SKYFLEET_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/skyfleet/wheels}
out="$cache/$hash"
if ! compgen -G "$out/*.whl" >/dev/null; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/skyfleet-wheel.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # build from a clean copy: setuptools' build/ folder may hold stale modules
  (cd "$src" && tar --exclude=build --exclude=dist --exclude='*.egg-info' --exclude=__pycache__ -cf - .) |
    tar -C "$work" --one-top-level=src -xf -
  SOURCE_DATE_EPOCH=315532800 "$python" -m pip wheel --quiet --no-deps --disable-pip-version-check \
    -w "$work/out" "$work/src" >&2
  mkdir -p "$cache"
  rm -rf "$out.tmp.$$"
  mv "$work/out" "$out.tmp.$$"
  mv -T "$out.tmp.$$" "$out" 2>/dev/null || rm -rf "$out.tmp.$$"   # a concurrent build won the race
  # keep the five newest builds
  ls -1dt "$cache"/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
fi
ls -1 "$out"/*.whl | head -1
