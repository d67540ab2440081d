#!/usr/bin/env bash
# Installs certstream-server as a systemd service on a Debian/Ubuntu host with Node.js >= 20.19.
#
#   sudo scripts/install.sh                 build, install under /opt/certstream-server, install the units
#                                           and /etc/default files, daemon-reload, enable --now
#   sudo scripts/install.sh --uninstall     stop, disable and remove all of it (keeps edited /etc/default
#                                           files, an edited NATS drop-in and the state directory;
#                                           --purge removes those too)
#   scripts/install.sh --stage DIR          only build the installable tree (dist + production
#                                           node_modules + units) into DIR; needs no root
#   sudo scripts/install.sh --prebuilt DIR  install a tree made by --stage (no build, no npm)
#   --no-start                              install files only: no daemon-reload, enable or start
#   --prefix DIR                            install location (default /opt/certstream-server; the units
#                                           name /opt/certstream-server, so change both together)
#   DESTDIR=/some/root                      (environment) install below that root, as for packaging or
#                                           an image; implies --no-start and needs no root
#
# Idempotent: running it again installs the new build, restarts a running daemon onto it and leaves
# edited /etc/default files alone (a newer template is written beside them as *.dist).
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DESTDIR="${DESTDIR:-}"
PREFIX=/opt/certstream-server
UNIT_DIR=/usr/local/lib/systemd/system   # systemd's path for locally installed units; /etc stays the admin's
DEFAULT_DIR=/etc/default
# The units name the interpreter (PATH differs under systemd). CERTSTREAM_INSTALL_NODE only lets the
# tests point the version check at a stand-in.
NODE="${CERTSTREAM_INSTALL_NODE:-/usr/bin/node}"
MIN_NODE=20.19.0
UNITS=(certstream-server.service certstream-server-health.service certstream-server-health.timer certaudit.service certstream-watch.service)
ENABLE=(certstream-server.service certstream-server-health.timer)
DEFAULTS=(certstream-server certaudit certstream-watch)
# The NATS scale-out files stay in $PREFIX/systemd/nats/ (nothing of them is active until the admin
# copies them): role snippets for /etc/default/certstream-server and this drop-in for a host that also
# runs nats-server. Uninstall removes the drop-in from the admin's directory only when it is unedited.
DROPIN_DIR=/etc/systemd/system/certstream-server.service.d
NATS_DROPIN=local-nats.conf

mode=install
stage_dir=''
prebuilt=''
start=yes
purge=no

# The build's temporary tree. A global, not a `local`: the EXIT trap runs after do_install has returned,
# where a local would be out of scope (and `set -u` would turn a successful install into exit 1).
build_tmp=''
cleanup() { if [ -n "$build_tmp" ]; then rm -rf "$build_tmp"; fi; }
trap cleanup EXIT

die() { echo "install.sh: error: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) mode=uninstall ;;
    --purge) purge=yes ;;
    --stage) mode=stage; stage_dir="${2:?--stage needs a directory}"; shift ;;
    --prebuilt) prebuilt="${2:?--prebuilt needs a directory}"; shift ;;
    --no-start) start=no ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done

version_ge() { # version_ge A B: A >= B (dotted numbers)
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]
}

check_node() { # check_node PATH
  local v
  [ -x "$1" ] || return 1
  v="$("$1" -p 'process.versions.node' 2>/dev/null)" || return 1
  version_ge "$v" "$MIN_NODE" || die "$1 is Node.js $v; certstream-server needs >= $MIN_NODE (https://nodejs.org, or Debian/Ubuntu packages from NodeSource)"
}

systemd_running() { [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; }

# Builds the installable tree into $1: dist/, production node_modules, package files, units, scripts.
build_stage() {
  local out="$1"
  command -v node >/dev/null || die "node is not installed (need Node.js >= $MIN_NODE)"
  check_node "$(command -v node)"
  command -v npm >/dev/null || die "npm is not installed (it comes with Node.js)"
  [ -f "$SRC/package.json" ] && [ -f "$SRC/package-lock.json" ] || die "$SRC is not a certstream-server checkout"
  say "building in $SRC"
  if [ ! -d "$SRC/node_modules" ]; then
    (cd "$SRC" && npm ci --no-audit --no-fund) || die "npm ci failed in $SRC"
  fi
  (cd "$SRC" && npm run --silent build) || die "npm run build failed"
  mkdir -p "$out"
  rm -rf "${out:?}/dist" "$out/systemd" "$out/scripts" "$out/build"
  cp -a "$SRC/dist" "$SRC/systemd" "$SRC/scripts" "$SRC/package.json" "$SRC/package-lock.json" "$out/"
  for f in README.md LICENSE; do [ -f "$SRC/$f" ] && cp "$SRC/$f" "$out/"; done
  say "installing production dependencies into $out"
  # --prefer-offline: a machine that just ran `npm ci` in the checkout has every package cached.
  (cd "$out" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error) ||
    die "npm ci --omit=dev failed in $out"
  # --ignore-scripts skips native builds: certstream-watch's SQLite driver takes the one the checkout's
  # `npm ci` compiled for this node (a rebuild needs g++ and minutes).
  if [ -d "$SRC/node_modules/better-sqlite3/build/Release" ]; then
    cp -a "$SRC/node_modules/better-sqlite3/build" "$out/node_modules/better-sqlite3/"
  fi
  # The daemon's memory_release addon (its memory at rest), compiled by the same `npm ci`; without it the
  # daemon runs and says so in its log.
  if [ -f "$SRC/build/Release/memory_release.node" ]; then
    mkdir -p "$out/build/Release" && cp "$SRC/build/Release/memory_release.node" "$out/build/Release/"
  else
    say "WARNING: build/Release/memory_release.node was not built (npm run build:native): the server's memory at rest will be about 15 MB higher"
  fi
}

# Copies $1 to $2 unless $2 exists with other content; then the template goes beside it as $2.dist.
install_default() {
  local template="$1" target="$2"
  if [ ! -e "$target" ]; then
    install -m 0644 "$template" "$target"
    say "installed $target"
  elif cmp -s "$template" "$target"; then
    rm -f "$target.dist"
  else
    install -m 0644 "$template" "$target.dist"
    say "kept your edited $target; the current template is $target.dist"
  fi
}

do_install() {
  need_root ''
  check_node "$NODE" || die "Node.js is not installed at $NODE, which the units run (install Node.js >= $MIN_NODE, or link it there)"
  local tree
  if [ -n "$prebuilt" ]; then
    tree="$(cd "$prebuilt" && pwd)"
    [ -f "$tree/dist/cli/certstream-server.js" ] && [ -d "$tree/node_modules" ] && [ -d "$tree/systemd" ] ||
      die "$prebuilt is not a tree made by --stage (dist/, node_modules/, systemd/)"
  else
    build_tmp="$(mktemp -d)"
    tree="$build_tmp/tree"
    build_stage "$tree"
  fi

  # Swap the new tree in whole, so a half-copied install never runs.
  local was_active=no
  if systemd_running && systemctl is-active --quiet certstream-server.service; then was_active=yes; fi
  mkdir -p "$(dirname "$PREFIX")"
  rm -rf "$PREFIX.new" "$PREFIX.old"
  cp -a "$tree" "$PREFIX.new"
  if [ "$(id -u)" = 0 ]; then chown -R root:root "$PREFIX.new"; fi
  chmod -R u=rwX,go=rX "$PREFIX.new"
  if [ -e "$PREFIX" ]; then mv "$PREFIX" "$PREFIX.old"; fi
  mv "$PREFIX.new" "$PREFIX"
  rm -rf "$PREFIX.old"
  cleanup
  build_tmp=''
  say "installed $PREFIX"

  mkdir -p "$UNIT_DIR"
  for u in "${UNITS[@]}"; do install -m 0644 "$PREFIX/systemd/$u" "$UNIT_DIR/$u"; done
  say "installed units into $UNIT_DIR"
  mkdir -p "$DEFAULT_DIR"
  for d in "${DEFAULTS[@]}"; do install_default "$PREFIX/systemd/$d.default" "$DEFAULT_DIR/$d"; done

  if [ "$start" = no ]; then
    say "--no-start: not reloading or starting anything"
    return
  fi
  if ! systemd_running; then
    say "systemd is not running here: skipped daemon-reload and enable; run 'systemctl enable --now ${ENABLE[*]}' on the target"
    return
  fi
  systemctl daemon-reload
  systemctl enable --now "${ENABLE[@]}"
  if [ "$was_active" = yes ]; then
    say "restarting certstream-server onto the new build"
    systemctl restart certstream-server.service
  fi
  if ! systemctl is-active --quiet certstream-server.service; then
    systemctl --no-pager --lines=20 status certstream-server.service >&2 || true
    die "certstream-server.service did not start (see above; configuration in $DEFAULT_DIR/certstream-server)"
  fi
  say "certstream-server is running: systemctl status certstream-server; journalctl -u certstream-server"
  say "optional continuous audit against the public feed: systemctl enable --now certaudit"
  say "optional watch-list alerting: write /etc/certstream-watch/watch.txt, then systemctl enable --now certstream-watch"
  say "scale-out over NATS JetStream (ingest/edge roles): $PREFIX/systemd/nats/ and the README"
}

do_uninstall() {
  need_root --uninstall
  if systemd_running; then
    systemctl disable --now "${UNITS[@]}" 2>/dev/null || true
  fi
  for u in "${UNITS[@]}"; do rm -f "$UNIT_DIR/$u"; done
  if systemd_running; then
    systemctl daemon-reload
    systemctl reset-failed "${UNITS[@]}" 2>/dev/null || true
  fi
  for d in "${DEFAULTS[@]}"; do
    local target="$DEFAULT_DIR/$d"
    rm -f "$target.dist"
    [ -e "$target" ] || continue
    if [ "$purge" = yes ] || { [ -f "$PREFIX/systemd/$d.default" ] && cmp -s "$PREFIX/systemd/$d.default" "$target"; }; then
      rm -f "$target"
    else
      say "kept your edited $target (--purge removes it)"
    fi
  done
  local dropin="$DROPIN_DIR/$NATS_DROPIN"
  if [ -e "$dropin" ]; then
    if [ "$purge" = yes ] || { [ -f "$PREFIX/systemd/nats/$NATS_DROPIN" ] && cmp -s "$PREFIX/systemd/nats/$NATS_DROPIN" "$dropin"; }; then
      rm -f "$dropin"
      rmdir "$DROPIN_DIR" 2>/dev/null || true
    else
      say "kept your edited $dropin (--purge removes it)"
    fi
  fi
  rm -rf "$PREFIX" "$PREFIX.new" "$PREFIX.old"
  if [ "$purge" = yes ]; then
    # DynamicUser= keeps the real directory under /var/lib/private.
    rm -rf "$DESTDIR/var/lib/private/certstream-server" "$DESTDIR/var/lib/certstream-server"
    say "removed the state directory"
  else
    say "kept the cursors in /var/lib/private/certstream-server (--purge removes them)"
  fi
  say "uninstalled"
}

if [ -n "$DESTDIR" ]; then
  start=no
  DESTDIR="$(mkdir -p "$DESTDIR" && cd "$DESTDIR" && pwd)"
fi
PREFIX="$DESTDIR$PREFIX"
UNIT_DIR="$DESTDIR$UNIT_DIR"
DEFAULT_DIR="$DESTDIR$DEFAULT_DIR"
DROPIN_DIR="$DESTDIR$DROPIN_DIR"
need_root() { [ -n "$DESTDIR" ] || [ "$(id -u)" = 0 ] || die "must run as root (sudo $0 $1)"; }

case "$mode" in
  stage) build_stage "$stage_dir"; say "staged into $stage_dir" ;;
  install) do_install ;;
  uninstall) do_uninstall ;;
esac
