#!/usr/bin/env bash
# netns-host.sh - an extra, independent GlusterFS "host" inside a Linux network namespace.
#
#   netns-host.sh up     NAME IP/PREFIX [PEER_IP]  create (or repair) host NAME; idempotent. With
#                                                  PEER_IP (the IP of another host made by this script)
#                                                  that host probes NAME into its trusted pool.
#   netns-host.sh down   NAME                      destroy it and everything started in it; idempotent
#   netns-host.sh exec   NAME CMD [ARG...]         run CMD inside (its net + mount namespace), e.g.
#                                                  exec nsg1 gluster volume create ... 10.231.8.2:/srv/nsg/nsg1/bricks/b1 force
#   netns-host.sh sshd   NAME                      start an sshd (port 22) inside; idempotent
#   netns-host.sh status NAME                      exit 0 when up and glusterd answers
#   netns-host.sh ip     NAME                      print the host's IP address
#
# What `up NAME 10.231.8.2/30` builds (HOST_IP: env NSG_HOST_IP, default the first address of the subnet):
#   - network namespace NAME, veth pair "vh-NAME" (root ns, HOST_IP/PREFIX) <-> "eth0" (in NAME,
#     IP/PREFIX), lo up, default route in NAME via HOST_IP. The root namespace reaches the host at
#     IP directly; two such hosts reach each other through the root namespace (needs
#     net.ipv4.ip_forward=1, which the script checks but does not change).
#   - an anchor process (sleep) in NAME with a private mount namespace in which
#     /var/lib/glusterd, /run (= /var/run), /var/log/glusterfs and /etc/resolv.conf are bind mounts
#     of $NSG_ROOT/NAME/{lib,run,log,resolv.conf}; glusterd, its bricks, sshd and everything `exec`
#     starts live there.
#   - glusterd (fresh UUID) listening on IP:24007. Put bricks under $NSG_ROOT/NAME/bricks and name
#     them by IP (IP:/path), so root-namespace clients need no /etc/hosts entry.
# Use a separate subnet per host (10.231.8.0/30, 10.231.9.0/30, ...). NAME: at most 12 characters.
# `down` unmounts root-namespace glusterfs mounts whose source is "IP:...", kills every process in
# the network namespace by pid (TERM, then KILL), deletes the namespace and $NSG_ROOT/NAME.
# `up` on a broken leftover (crashed run) tears it down first; on a healthy host it does nothing.
#
# Environment: NSG_ROOT (default /srv/nsg) - state and brick directories.
# Needs: root, iproute2, util-linux (unshare, nsenter, mountpoint), glusterfs-server.
# (Copied verbatim from shared/gluster/netns-host.sh of the steering checkout, because CI has no ../shared; only this line added.)
set -euo pipefail

NSG_ROOT=${NSG_ROOT:-/srv/nsg}

die() { echo "netns-host: $*" >&2; exit 1; }
log() { echo "netns-host: $*" >&2; }

check_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,11}$ ]] || die "bad NAME '$1' (1-12 chars [A-Za-z0-9_-])"
}

ip2int() { local IFS=.; set -- $1; echo $(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 )); }
int2ip() { echo "$(( ($1 >> 24) & 255 )).$(( ($1 >> 16) & 255 )).$(( ($1 >> 8) & 255 )).$(( $1 & 255 ))"; }

ns_exists() { [ -e "/run/netns/$1" ]; }

# pid of the anchor process of NAME, if it is alive and in netns NAME
anchor_pid() {
    local f="$NSG_ROOT/$1/anchor.pid" pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    [ -d "/proc/$pid" ] || return 1
    ns_exists "$1" || return 1
    [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$(stat -L -c %i "/run/netns/$1")" ] || return 1
    echo "$pid"
}

in_ns() {   # in_ns NAME CMD... : run CMD in NAME's net + mount namespace
    local name=$1 pid; shift
    pid=$(anchor_pid "$name") || die "host '$name' is not up"
    nsenter -t "$pid" -m -n -- "$@"
}

glusterd_pid() {   # pid of glusterd of NAME, if alive
    local f="$NSG_ROOT/$1/run/glusterd.pid" pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = glusterd ] || return 1
    [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$(stat -L -c %i "/run/netns/$1" 2>/dev/null)" ] || return 1
    echo "$pid"
}

glusterd_answers() { in_ns "$1" timeout 10 gluster --mode=script peer status >/dev/null 2>&1; }

start_glusterd() {
    local name=$1 i
    in_ns "$name" glusterd -p /run/glusterd.pid
    for i in $(seq 1 300); do   # up to 30 s
        glusterd_answers "$name" && return 0
        sleep 0.1
    done
    die "glusterd in '$name' did not answer within 30 s (log: $NSG_ROOT/$name/log/glusterd.log)"
}

join_pool() {   # join_pool NAME PEER_IP: the host owning PEER_IP probes NAME (a fresh node must be
                # probed from the pool, not probe into it); waits for "Peer in Cluster" on both sides
    local name=$1 peerip=$2 peer="" d i myip
    [ -n "$peerip" ] || return 0
    for d in "$NSG_ROOT"/*/; do
        [ "$(cat "$d/ip" 2>/dev/null)" = "$peerip" ] && peer=$(basename "$d")
    done
    [ -n "$peer" ] && [ "$peer" != "$name" ] || die "no other host made by this script has IP $peerip"
    myip=$(cat "$NSG_ROOT/$name/ip")
    in_ns "$peer" gluster --mode=script peer probe "$myip" >&2 || die "peer probe $myip from $peer failed"
    for i in $(seq 1 150); do   # up to 30 s
        if in_ns "$peer" gluster peer status 2>/dev/null | grep -A2 -xF "Hostname: $myip" | grep -q 'Peer in Cluster (Connected)' &&
           in_ns "$name" gluster peer status 2>/dev/null | grep -A2 -xF "Hostname: $peerip" | grep -q 'Peer in Cluster (Connected)'; then
            return 0
        fi
        sleep 0.2
    done
    die "$name and $peer did not reach 'Peer in Cluster (Connected)' within 30 s"
}

cmd_status() {
    local name=$1
    anchor_pid "$name" >/dev/null || { echo "$name: down"; return 1; }
    glusterd_answers "$name" || { echo "$name: up, glusterd not answering"; return 1; }
    echo "$name: up, ip $(cat "$NSG_ROOT/$name/ip"), glusterd pid $(glusterd_pid "$name" || echo '?')"
}

cmd_down() {
    local name=$1 dir="$NSG_ROOT/$1" ip="" pids pid i src mnt rest
    [ -s "$dir/ip" ] && ip=$(cat "$dir/ip")
    if [ -z "$ip" ] && ns_exists "$name"; then
        ip=$(ip -n "$name" -4 -o addr show dev eth0 2>/dev/null | awk '{split($4,a,"/"); print a[1]; exit}') || true
    fi
    # 1. root-namespace glusterfs mounts served by this host (mount -t glusterfs IP:/vol, glusterfs --volfile-server=IP)
    if [ -n "$ip" ]; then
        while read -r src mnt rest; do
            case "$src" in "$ip":*)
                mnt=$(printf '%b' "$mnt")
                log "unmounting $mnt ($src)"
                umount "$mnt" 2>/dev/null || umount -l "$mnt" || true ;;
            esac
        done < <(awk '$3 ~ /^fuse\.glusterfs/ {print $1, $2}' /proc/mounts)
    fi
    # 2. every process in the network namespace, by pid
    if ns_exists "$name"; then
        pids=$(ip netns pids "$name" 2>/dev/null | grep -vx "$$" || true)
        if [ -n "$pids" ]; then
            kill -TERM $pids 2>/dev/null || true
            for i in $(seq 1 100); do   # up to 10 s
                pids=$(ip netns pids "$name" 2>/dev/null | grep -vx "$$" || true)
                [ -z "$pids" ] && break
                sleep 0.1
            done
            if [ -n "$pids" ]; then
                log "KILL $pids"
                kill -KILL $pids 2>/dev/null || true
                sleep 0.5
            fi
        fi
        ip netns del "$name" 2>/dev/null || true
    fi
    ip link del "vh-$name" 2>/dev/null || true
    # 3. state (refuse if something is still mounted below it in this mount namespace)
    if [ -d "$dir" ]; then
        if awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {found=1} END {exit !found}' /proc/mounts; then
            die "something is still mounted below $dir; not removing it"
        fi
        rm -rf --one-file-system "$dir"
    fi
    return 0
}

cmd_up() {
    local name=$1 cidr=$2 peerip=${3:-} hostip=${NSG_HOST_IP:-} ip prefix mask net n hip_int inner cur
    [[ $cidr =~ ^([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)/([0-9]+)$ ]] || die "IP/PREFIX expected, got '$cidr'"
    ip=${BASH_REMATCH[1]} prefix=${BASH_REMATCH[2]}
    (( prefix >= 8 && prefix <= 30 )) || die "prefix must be 8..30"
    if [ -z "$hostip" ]; then
        mask=$(( (0xffffffff << (32 - prefix)) & 0xffffffff ))
        net=$(( $(ip2int "$ip") & mask ))
        hip_int=$(( net + 1 )); [ "$hip_int" = "$(ip2int "$ip")" ] && hip_int=$(( net + 2 ))
        hostip=$(int2ip $hip_int)
    fi
    local dir="$NSG_ROOT/$name"

    # already up?
    if anchor_pid "$name" >/dev/null; then
        cur=$(cat "$dir/ip" 2>/dev/null || true)
        [ "$cur" = "$ip" ] || die "'$name' is up with IP '$cur'; run down first"
        if glusterd_answers "$name"; then log "$name already up ($ip)"; join_pool "$name" "$peerip"; return 0; fi
        if ! glusterd_pid "$name" >/dev/null; then
            log "$name: glusterd not running, restarting it (state kept)"
            start_glusterd "$name"; join_pool "$name" "$peerip"; return 0
        fi
        log "$name: glusterd runs but does not answer; recreating"
    fi
    # leftovers of a crashed run
    if ns_exists "$name" || [ -e "$dir" ] || ip link show "vh-$name" >/dev/null 2>&1; then
        log "$name: removing stale state"
        cmd_down "$name"
    fi
    # the address must not be in use already (another host with the same subnet)
    if ip -4 -o addr show | awk '{split($4,a,"/"); print a[1]}' | grep -qxF -e "$hostip" -e "$ip"; then
        die "address $hostip or $ip already configured in the root namespace"
    fi
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || \
        log "warning: net.ipv4.ip_forward=0: hosts in different namespaces cannot reach each other"

    mkdir -p "$dir"/lib "$dir"/run "$dir"/log "$dir"/bricks
    # the packaged hooks and option groups (copied, not shared); glusterd.info (UUID) is NOT copied
    for d in hooks groups; do
        [ -d "/var/lib/glusterd/$d" ] && cp -a "/var/lib/glusterd/$d" "$dir/lib/"
    done
    echo "$ip" > "$dir/ip"
    # DNS inside: the root namespace's resolver is not reachable from the namespace, and glusterd
    # does reverse lookups of peer IPs (10 s timeout each, peer probe took 20-30 s). A resolver on
    # the namespace's own (empty) loopback fails at once; /etc/hosts is still read.
    printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$dir/resolv.conf"

    ip netns add "$name"
    ip link add "vh-$name" type veth peer name "vn-$name" netns "$name"
    ip addr add "$hostip/$prefix" dev "vh-$name"
    ip link set "vh-$name" up
    ip -n "$name" link set lo up
    ip -n "$name" link set "vn-$name" name eth0
    ip -n "$name" addr add "$ip/$prefix" dev eth0
    ip -n "$name" link set eth0 up
    ip -n "$name" route add default via "$hostip"

    # anchor: private mount namespace with the bind mounts, then sleeps forever.
    # Safety: glusterd must never see the root namespace's /run (glusterd.socket) or
    # /var/lib/glusterd, so every mount is checked before the pid file appears.
    inner='set -e
D=$1
mount --bind "$D/lib" /var/lib/glusterd
mount --bind "$D/log" /var/log/glusterfs
mount --bind "$D/run" /run
mount --bind "$D/resolv.conf" /etc/resolv.conf
mountpoint -q /var/lib/glusterd; mountpoint -q /var/log/glusterfs; mountpoint -q /run
[ ! -e /run/glusterd.socket ]
mkdir -p /run/gluster /run/sshd /run/lock /run/mount
echo $$ > "$D/anchor.pid"
exec sleep infinity'
    setsid ip netns exec "$name" unshare -m --propagation private -- sh -c "$inner" sh "$dir" \
        </dev/null >"$dir/anchor.log" 2>&1 &
    for n in $(seq 1 100); do
        anchor_pid "$name" >/dev/null && break
        sleep 0.05
    done
    anchor_pid "$name" >/dev/null || { cat "$dir/anchor.log" >&2; cmd_down "$name"; die "anchor did not start"; }
    start_glusterd "$name"
    join_pool "$name" "$peerip"
    log "$name up: $ip (root ns side $hostip), glusterd pid $(glusterd_pid "$name"), bricks under $dir/bricks"
}

cmd_sshd() {
    local name=$1 f="$NSG_ROOT/$1/run/sshd.pid" pid
    if [ -s "$f" ]; then
        pid=$(cat "$f")
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ]; then log "sshd already running in $name"; return 0; fi
    fi
    in_ns "$name" sh -c 'mkdir -p /run/sshd && /usr/sbin/sshd -o PidFile=/run/sshd.pid'
}

[ $# -ge 2 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root"
sub=$1 name=$2; shift 2
check_name "$name"
case "$sub" in
    up)     [ $# -ge 1 ] || die "usage: up NAME IP/PREFIX [PEER_IP]"; cmd_up "$name" "$@" ;;
    down)   cmd_down "$name" ;;
    exec)   [ $# -ge 1 ] || die "usage: exec NAME CMD..."; in_ns "$name" "$@" ;;
    sshd)   cmd_sshd "$name" ;;
    status) cmd_status "$name" ;;
    ip)     cat "$NSG_ROOT/$name/ip" ;;
    *)      die "unknown subcommand '$sub'" ;;
esac
