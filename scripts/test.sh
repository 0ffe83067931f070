#!/usr/bin/env bash
# scripts/test.sh - THE test command of gsyncd: `bash scripts/test.sh`, as root on Debian 12.
#
#  1. installs what the tests need, only when missing (apt-get; `apt-get update` only then);
#  2. runs `npm ci` when node_modules is missing or does not match package-lock.json;
#  3. runs `npm test` (build, unit tests, integration tests; node:test spec reporter, whose
#     closing summary - "ℹ tests N ... ℹ fail 0" - ends each part), then the compose
#     end-to-end test (deploy/compose/e2e.sh: images, `docker compose up`, data flowing);
#  4. always: stops a glusterd that the tests started (test/support/stop-test-glusterd.sh).
# Exit status: that of `npm test` (non-zero if anything failed), or non-zero if setup failed.
# Arguments are not used. See docs/testing.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "scripts/test.sh: $*" >&2; }
die() { say "$*"; exit 1; }
start=$(date +%s)

[ "$(id -u)" = 0 ] || die "must run as root (integration tests start glusterd/sshd, mount FUSE, create network namespaces)"

# --- 1. system packages ---------------------------------------------------------------------
PKGS=(glusterfs-server glusterfs-client rsync openssh-server openssh-client attr acl iproute2
      fuse3 util-linux procps iputils-ping)
missing=()
for p in "${PKGS[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update
    apt-get -o DPkg::Lock::Timeout=600 install -y "${missing[@]}"
fi

# promtool (Prometheus rule and metrics checks): only the binary. Installing Debian's
# `prometheus` package would also start a Prometheus server on a machine without systemd.
if ! command -v promtool >/dev/null; then
    say "installing promtool (from Debian's prometheus package, binary only)"
    tmp=$(mktemp -d)
    ( cd "$tmp" && apt-get -o DPkg::Lock::Timeout=600 download prometheus >/dev/null 2>&1 ) ||
        { apt-get -o DPkg::Lock::Timeout=600 update >/dev/null && ( cd "$tmp" && apt-get -o DPkg::Lock::Timeout=600 download prometheus ); }
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
    install -m 0755 "$tmp/x/usr/bin/promtool" /usr/local/bin/promtool
    rm -rf "$tmp"
fi

# FUSE mounts need /dev/fuse (loaded on demand on most kernels; a container needs --device /dev/fuse)
if [ ! -e /dev/fuse ]; then
    modprobe fuse 2>/dev/null || true
    [ -e /dev/fuse ] || say "warning: /dev/fuse is missing: the GlusterFS mount tests will fail"
fi

# --- 2. node and node_modules ---------------------------------------------------------------
command -v node >/dev/null || die "node (>= 20) is not installed"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
    die "node >= 20 required, found $(node --version)"
# Stale = some locked package is not installed at its locked version (npm's own record of what
# it installed, node_modules/.package-lock.json), or something is installed that is not locked.
node_modules_ok() {
    node -e '
const fs = require("fs");
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages || {};
let inst;
try { inst = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages || {}; }
catch { process.exit(1); }
for (const [k, v] of Object.entries(lock)) {
  if (!k) continue;
  const i = inst[k];
  if (!i) { if (v.optional || v.devOptional || v.peer) continue; console.error("missing " + k); process.exit(1); }
  if (!v.link && i.version !== v.version) { console.error("version " + k); process.exit(1); }
  if (!v.link && !fs.existsSync(k + "/package.json")) { console.error("not on disk " + k); process.exit(1); }
}
for (const k of Object.keys(inst)) if (!lock[k]) { console.error("not locked " + k); process.exit(1); }
'
}
if [ ! -d node_modules ] || ! node_modules_ok; then
    say "node_modules missing or stale: npm ci"
    npm ci --no-audit --no-fund
fi

# --- 3. the tests; 4. teardown --------------------------------------------------------------
trap 'bash test/support/stop-test-glusterd.sh || true' EXIT
status=0
npm test || status=$?
# The containerized pair, for real: images built, compose stack up, data flowing (podman stands
# in for Docker where no engine runs; deploy/compose/e2e.sh sets it up).
if [ "$status" = 0 ]; then
    bash deploy/compose/e2e.sh || status=$?
fi
# Faults injected for real (kill -9, partitions, disk full, a replaced volume, fuzzed input).
if [ "$status" = 0 ]; then
    npm run test:reliability || status=$?
fi
if [ "$status" = 0 ]; then
    say "PASS ($(( $(date +%s) - start )) s)"
else
    say "FAIL: exit status $status ($(( $(date +%s) - start )) s)"
fi
exit "$status"
