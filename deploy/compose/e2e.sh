#!/usr/bin/env bash
# deploy/compose/e2e.sh — the end-to-end test of the compose pair (test/e2e/compose.test.ts):
# builds the images, `docker compose -p e2e up -d --build --wait`, writes files through the demo
# GlusterFS volume, waits for them on the slave, scrapes both /metrics, stops and starts the
# slave container, then `down -v`. About 4-5 min with a cold build cache, 3 min warm.
#
# Where no Docker API answers (CI, a bare Debian 12 machine) it first runs deploy/setup-podman.sh
# (as root): rootful podman with a Docker-compatible socket, local base images, compose v2.
# Extra arguments go to `node --test` (e.g. --test-name-pattern=replicates).
# Env: GSYNCD_E2E_KEEP=1 leaves the stack up; GSYNCD_E2E_PROJECT (default e2e).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
say() { echo "deploy/compose/e2e.sh: $*" >&2; }

if ! docker info >/dev/null 2>&1 || ! docker compose version >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { say "no Docker API and not root: start Docker, or run as root to set up podman"; exit 1; }
  say "no Docker API: setting up podman (deploy/setup-podman.sh)"
  bash deploy/setup-podman.sh
fi
export DOCKER_BUILDKIT=0 BUILDAH_FORMAT=docker
[ -d node_modules ] || npm ci --no-audit --no-fund
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@" test/e2e/compose.test.ts
