#!/usr/bin/env bash
# Offline checks of the systemd units in systemd/ (run by test/systemd/verify-units.test.ts and usable
# by hand):
#   1. `systemd-analyze verify` over every unit inside a --root tree that holds stub executables at every
#      Exec*= path and a copy of /usr/lib/systemd/system. verify exits 0 on "Unknown key" and similar
#      warnings, so ANY output at all is a failure here.
#   2. `systemd-analyze security --offline` of the server unit: exposure must be <= 2.5.
#   3. every .timer has its .service (verify passes a timer whose service is missing).
#   The drop-ins in systemd/nats/*.conf and systemd/access/*.conf are applied to certstream-server.service for 1 and 2.
# Exit 0 when all pass; 1 with the offending output otherwise; 77 when systemd-analyze is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
units_dir="${1:-$here/systemd}"
threshold="${SECURITY_THRESHOLD:-25}"   # tenths: 25 = exposure 2.5

if ! command -v systemd-analyze >/dev/null; then
  echo "verify-units: SKIP: systemd-analyze not installed (apt-get install systemd)" >&2
  exit 77
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/system"

shopt -s nullglob
units=("$units_dir"/*.service "$units_dir"/*.timer "$units_dir"/*.socket "$units_dir"/*.path)
if [ "${#units[@]}" -eq 0 ]; then
  echo "verify-units: no units in $units_dir" >&2
  exit 1
fi
for u in "${units[@]}"; do cp "$u" "$root/etc/systemd/system/"; done
# systemd/nats/*.conf and systemd/access/*.conf are optional drop-ins of certstream-server.service (the admin copies one into
# /etc/systemd/system/certstream-server.service.d/): verify the unit with all of them applied.
dropins=("$units_dir"/nats/*.conf "$units_dir"/access/*.conf)
if [ "${#dropins[@]}" -gt 0 ]; then
  mkdir -p "$root/etc/systemd/system/certstream-server.service.d"
  for d in "${dropins[@]}"; do cp "$d" "$root/etc/systemd/system/certstream-server.service.d/"; done
fi

# Stub executables at every absolute Exec*= path (after the special prefixes - + ! @ :). A bare name
# would be looked up in the unit's PATH, which differs between hosts: name the interpreter instead.
fail=0
mapfile -t exes < <(grep -hE '^Exec[A-Za-z]*=' "${units[@]}" "${dropins[@]}" | sed -E 's/^Exec[A-Za-z]*=[-+!@:]*//' | awk '{print $1}' | sort -u)
for exe in "${exes[@]}"; do
  case "$exe" in
    /*) mkdir -p "$root$(dirname "$exe")"
        printf '#!/bin/sh\nexit 0\n' > "$root$exe"
        chmod 755 "$root$exe" ;;
    *) echo "verify-units: Exec path '$exe' is not absolute" >&2; fail=1 ;;
  esac
done

names=()
for u in "${units[@]}"; do names+=("$root/etc/systemd/system/$(basename "$u")"); done
out="$(systemd-analyze verify --man=no --root="$root" "${names[@]}" 2>&1)" || fail=1
if [ -n "$out" ]; then
  echo "verify-units: systemd-analyze verify said (any output is a failure):" >&2
  echo "$out" | sed "s|$root||g" >&2
  fail=1
fi

for t in "$units_dir"/*.timer; do
  svc="$(sed -nE 's/^Unit=(.*)$/\1/p' "$t" | tail -1)"
  [ -n "$svc" ] || svc="$(basename "$t" .timer).service"
  if [ ! -f "$units_dir/$svc" ]; then
    echo "verify-units: $(basename "$t") activates $svc, which is not in $units_dir" >&2
    fail=1
  fi
done

# shellcheck disable=SC2086 # a space-separated list
for svc in ${SECURITY_UNITS:-certstream-server.service}; do
  if ! sec="$(systemd-analyze security --offline=yes --root="$root" --threshold="$threshold" "$root/etc/systemd/system/$svc" 2>&1)"; then
    echo "$sec" | grep -E '^✗|Overall' >&2 || echo "$sec" >&2
    echo "verify-units: $svc exposure is above $(awk "BEGIN{print $threshold/10}")" >&2
    fail=1
  else
    echo "verify-units: $svc $(echo "$sec" | grep -o 'Overall exposure level.*' | sed "s|$root||g")"
  fi
done

if [ "$fail" = 0 ]; then echo "verify-units: OK (${#units[@]} units, ${#dropins[@]} drop-ins)"; fi
exit "$fail"
