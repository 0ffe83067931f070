#!/usr/bin/env bash
# bench/run.sh - the one benchmark command (see bench/README.md).
#
#   bash bench/run.sh [--quick] [--peers gsyncd,georep,...] [--workloads a,b,...]
#                     [--timeout-scale X] [--results DIR]
#
# As root on Debian 12. Installs what is missing (GlusterFS, rsync, OpenSSH, lsyncd, strace, ...),
# runs `npm ci` if node_modules is missing, builds gsyncd into a private snapshot (bench/.build, so
# a concurrent `npm run build` cannot change the program under test mid-run), then runs
# bench/main.ts, which sets up glusterd, volumes, sshd, root ssh to localhost and the geo-rep keys,
# measures every workload for every peer with a per-workload timeout, tears everything down and
# prints the `metric value unit` lines, the ratio table and the target verdicts.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

if [ "$(id -u)" != 0 ]; then
    echo "bench/run.sh: must run as root (it starts glusterd/sshd, makes FUSE mounts)" >&2
    exit 1
fi

results=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --results) results=$2; shift 2 ;;
        --results=*) results=${1#--results=}; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done
mode=full
for a in "${args[@]+"${args[@]}"}"; do [ "$a" = --quick ] && mode=quick; done
[ -n "$results" ] || results="$REPO/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$mode"
mkdir -p "$results"

# 1. system packages, only the missing ones
pkgs=(glusterfs-server glusterfs-client rsync openssh-server openssh-client attr acl fuse3 lsyncd strace procps iproute2 util-linux)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench/run.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true

# 2. npm dependencies
if [ ! -x node_modules/.bin/tsc ] || [ ! -d node_modules/tsx ]; then
    echo "bench/run.sh: npm ci"
    npm ci --no-audit --no-fund
fi

# 3. gsyncd snapshot build
build=bench/.build
rm -rf "$build.new"
mkdir -p "$build.new"
if node_modules/.bin/tsc -p tsconfig.json --outDir "$build.new/dist" >"$results/build.log" 2>&1; then
    echo "bench/run.sh: built gsyncd into $build (git $(git rev-parse --short HEAD)$(git status --porcelain -- src | grep -q . && echo ', with uncommitted src changes'))"
else
    cat "$results/build.log" >&2
    if [ -f dist/cli/main.js ]; then
        echo "bench/run.sh: WARNING: the build failed (see above); benchmarking the existing dist/ instead" >&2
        rm -rf "$build.new/dist"; cp -a dist "$build.new/dist"
    else
        echo "bench/run.sh: build failed and there is no dist/ to fall back to" >&2
        exit 1
    fi
fi
cp -a bin conf package.json "$build.new/"
rm -rf "$build"; mv "$build.new" "$build"

# 4. run (node:test's TAP trailer from the shared test helpers is filtered out)
set +e
node --import tsx bench/main.ts --results "$results" "${args[@]+"${args[@]}"}" 2>&1 \
    | grep --line-buffered -vE '^(TAP version 13|1\.\.0|# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [0-9.]+)$' \
    | tee "$results/run.log"
rc=${PIPESTATUS[0]}
set -e
exit "$rc"
