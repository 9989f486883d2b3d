#!/usr/bin/env bash
# Build systemd-capable Debian images for molecule and script/demo without a container registry:
# debootstrap a minbase root filesystem from the Debian mirror, then `docker import` it.
# Idempotent: a tag that already exists is skipped unless FORCE=1.
#
#   usage: .ci/build-images.sh [bullseye|bookworm|trixie ...]     (default: all three)
#   env:   MIRROR, SEC_MIRROR   Debian / security mirror (default: what this host's apt uses)
#          WORKDIR              scratch space, ~300 MB per suite (default ~/.cache/skyfleet-debootstrap)
#          IMAGE_PREFIX         tag prefix (default local/debian -> local/debian12-systemd:latest)
#          FORCE=1              rebuild existing tags
#          PARALLEL=1           build several suites at once
set -euo pipefail

WORKDIR=${WORKDIR:-$HOME/.cache/skyfleet-debootstrap}
IMAGE_PREFIX=${IMAGE_PREFIX:-local/debian}
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps
# units that are useless or fail inside a container
MASKED_UNITS="getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service
  systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount
  sys-fs-fuse-connections.mount systemd-remount-fs.service"

declare -A RELEASE=([bullseye]=11 [bookworm]=12 [trixie]=13)

log() { echo "[build-images $(date +%T)] $*"; }

# first repository URI of this host's apt configuration that matches the regex $1
host_apt_uri() {
  apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' 2>/dev/null |
    sed 's:/*$::' | grep -E -m1 "$1" || true
}

image_tag() { echo "${IMAGE_PREFIX}${RELEASE[$1]}-systemd:latest"; }

build_one() {
  local suite=$1 tag root started old_id
  [ -n "${RELEASE[$suite]:-}" ] || { echo "unknown suite: $suite (bullseye, bookworm, trixie)" >&2; return 2; }
  tag=$(image_tag "$suite")
  if [ -z "${FORCE:-}" ] && docker image inspect "$tag" >/dev/null 2>&1; then
    log "$tag exists, skipping"
    return 0
  fi
  local mirror=${MIRROR:-$(host_apt_uri '/debian$')}
  local sec_mirror=${SEC_MIRROR:-$(host_apt_uri '/debian-security$')}
  [ -n "$mirror" ] || { echo "set MIRROR to a Debian mirror URL" >&2; return 2; }
  [ -n "$sec_mirror" ] || { echo "set SEC_MIRROR to a Debian security mirror URL" >&2; return 2; }

  root="$WORKDIR/$suite"
  rm -rf "$root"
  mkdir -p "$root"
  started=$(date +%s)
  log "debootstrap $suite from $mirror"
  if ! debootstrap --variant=minbase --include="$PACKAGES" "$suite" "$root" "$mirror" \
      >"$WORKDIR/$suite.log" 2>&1; then
    tail -30 "$WORKDIR/$suite.log" >&2
    return 1
  fi

  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
    "$mirror" "$suite" "$mirror" "$suite" "$sec_mirror" "$suite" >"$root/etc/apt/sources.list"
  : >"$root/etc/machine-id"          # a fresh id per container boot
  rm -f "$root/var/lib/dbus/machine-id"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  # empty lists with an old mtime: Ansible's apt cache_valid_time then still runs apt-get update
  touch -d @0 "$root/var/lib/apt/lists"
  local unit
  for unit in $MASKED_UNITS; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done

  old_id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  log "docker import $tag"
  tar -C "$root" --numeric-owner -c . |
    docker import -c 'CMD ["/lib/systemd/systemd"]' -c 'ENV container=docker' \
      -m "debootstrap minbase $suite + systemd" - "$tag" >/dev/null
  rm -rf "$root"
  if [ -n "$old_id" ]; then docker rmi "$old_id" >/dev/null 2>&1 || true; fi
  log "$tag built in $(( $(date +%s) - started ))s"
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bullseye bookworm trixie)

command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
mkdir -p "$WORKDIR"

if [ -n "${PARALLEL:-}" ] && [ ${#suites[@]} -gt 1 ]; then
  pids=()
  for suite in "${suites[@]}"; do
    build_one "$suite" > >(sed "s/^/[$suite] /") 2>&1 &
    pids+=($!)
  done
  rc=0
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  exit $rc
fi

for suite in "${suites[@]}"; do
  build_one "$suite"
done
