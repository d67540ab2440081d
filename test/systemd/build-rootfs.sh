#!/usr/bin/env bash
# Builds (once) and caches the Debian bookworm tree that the nspawn end-to-end test boots.
# Built into a temp dir beside the cache and renamed when complete, so an interrupted build never
# leaves a half tree that later runs would trust. Prints the tree's path on stdout.
set -euo pipefail
CACHE="${CERTSTREAM_E2E_ROOTFS:-/var/cache/certstream-server-e2e/rootfs}"
if [ -x "$CACHE/usr/lib/systemd/systemd" ] && [ -e "$CACHE/.complete" ]; then
  echo "$CACHE"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "build-rootfs: must run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-rootfs: debootstrap missing" >&2; exit 1; }
# Use the mirror apt on this machine already uses (no other network source).
MIRROR="$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1 || true)"
if [ -z "$MIRROR" ]; then
  MIRROR="$(grep -h -m1 -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | head -1 || true)"
fi
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
parent="$(dirname "$CACHE")"
mkdir -p "$parent"
tmp="$(mktemp -d "$parent/rootfs.building.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "build-rootfs: debootstrap bookworm from $MIRROR into $tmp (about a minute)" >&2
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$tmp" "$MIRROR" >&2
# Quiet, fast boots: no getty on the console, no machine-id prompts.
rm -f "$tmp/etc/systemd/system/getty.target.wants/"* 2>/dev/null || true
: > "$tmp/etc/machine-id"
touch "$tmp/.complete"
rm -rf "$CACHE"
mv "$tmp" "$CACHE"
trap - EXIT
echo "$CACHE"
