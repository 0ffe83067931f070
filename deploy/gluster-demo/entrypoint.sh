#!/bin/bash
# glusterd in the foreground; on first start, create and start volume $GLUSTER_VOLUME with one
# brick /bricks/$GLUSTER_VOLUME named by this container's hostname (RECIPES-gluster.md §10):
#   - the volume is created only when `gluster volume info` does not know it: a recreated
#     container keeps glusterd's state (/var/lib/glusterd volume), so the volume keeps its id
#     and the master's xtimes/stimes stay valid (a new id would mean a full resync);
#   - `force`: the brick is on the container's root file system;
#   - geo-replication.indexing on: the marker keeps the xtimes gsyncd crawls by.
# Bricks are not glusterd's children: on SIGTERM they are stopped by their pid files, then
# glusterd. Extra `volume set` options: GLUSTER_VOLUME_OPTIONS="key=value key=value".
set -euo pipefail
VOLUME=${GLUSTER_VOLUME:-demo}
BRICK=/bricks/$VOLUME
HOST=$(hostname)
log() { echo "gluster-demo: $*" >&2; }
g() { gluster --mode=script "$@"; }

mkdir -p /var/lib/glusterd/geo-replication /var/log/glusterfs /bricks
glusterd -N --log-file=/var/log/glusterfs/glusterd.log &
glusterd_pid=$!

stop() {
  log "stopping bricks and glusterd"
  for f in /var/run/gluster/vols/*/*.pid /run/gluster/vols/*/*.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f" 2>/dev/null || true)
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  kill "$glusterd_pid" 2>/dev/null || true
  wait "$glusterd_pid" 2>/dev/null || true
  exit 0
}
trap stop TERM INT

for _ in $(seq 1 150); do g peer status >/dev/null 2>&1 && break; sleep 0.2; done
g peer status >/dev/null 2>&1 || { log "glusterd did not answer within 30 s"; tail -20 /var/log/glusterfs/glusterd.log >&2; exit 1; }

if ! g volume info "$VOLUME" >/dev/null 2>&1; then
  log "first start: creating volume $VOLUME with brick $HOST:$BRICK"
  mkdir -p "$BRICK"
  g volume create "$VOLUME" "$HOST:$BRICK" force
  g volume set "$VOLUME" geo-replication.indexing on
  for kv in ${GLUSTER_VOLUME_OPTIONS:-}; do g volume set "$VOLUME" "${kv%%=*}" "${kv#*=}"; done
  g volume start "$VOLUME"
else
  if ! g volume info "$VOLUME" | grep -q '^Status: Started'; then
    g volume start "$VOLUME"
  fi
  # glusterd restarts the bricks of started volumes by itself; give it a moment, then insist
  for _ in $(seq 1 50); do
    g volume status "$VOLUME" "$HOST:$BRICK" detail 2>/dev/null | grep -q '^Online *: Y' && break
    sleep 0.2
  done
  g volume status "$VOLUME" "$HOST:$BRICK" detail 2>/dev/null | grep -q '^Online *: Y' || g volume start "$VOLUME" force
fi
log "volume $VOLUME: $(g volume info "$VOLUME" | sed -n 's/^Volume ID: //p'), serving on $HOST:24007"
wait "$glusterd_pid"
