#!/usr/bin/env bash
# stop-test-glusterd.sh - the "global teardown" of the integration run (scripts/test.sh calls it
# at the end, also after failures). Stops the root-namespace glusterd ONLY if the tests started it
# (ensureGlusterd() in test/support/gluster.ts wrote its pid to /run/gsyncd-test/glusterd.pid) and
# it no longer serves any volume (another run may still be using it). By pid, never by name.
# A glusterd that was already running before the tests is never touched. Exit 0 in every case.
set -uo pipefail
marker=/run/gsyncd-test/glusterd.pid
[ -s "$marker" ] || exit 0
pid=$(cat "$marker")
say() { echo "stop-test-glusterd: $*" >&2; }
alive() {   # glusterd $pid exists and is not a zombie
    local st
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = glusterd ] || return 1
    st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [ "${st:0:1}" != Z ]
}

if ! alive ||
   [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ]; then
    rm -f "$marker"; exit 0   # gone already (or the pid was reused)
fi
vols=$(timeout 30 gluster --mode=script volume list 2>&1) || true
if [ "$vols" != "No volumes present in cluster" ]; then
    say "leaving glusterd (pid $pid) running: it still has volumes: $(echo "$vols" | tr '\n' ' ')"
    exit 0
fi
say "stopping glusterd pid $pid (started by the tests)"
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do
    alive || break
    sleep 0.1
done
if alive; then
    say "glusterd pid $pid ignored TERM for 10 s; KILL"
    kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$marker"
exit 0
