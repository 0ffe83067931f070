#!/usr/bin/env bash
# deploy/k8s/gen-keys.sh [SLAVE_HOST...] — make the key material for the two Secrets of
# kustomization.yaml in deploy/k8s/keys/ (git-ignored): the master's login key, the slave's
# host key, known_hosts listing that host key under the slave Service's names, authorized_keys.
# Existing keys are kept (run it again to add host names). Needs ssh-keygen. Default names:
# gsyncd-slave, gsyncd-slave.gsyncd, gsyncd-slave.gsyncd.svc, gsyncd-slave.gsyncd.svc.cluster.local
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -gt 0 ] || set -- gsyncd-slave gsyncd-slave.gsyncd gsyncd-slave.gsyncd.svc gsyncd-slave.gsyncd.svc.cluster.local
bash "$here/../docker/keygen.sh" "$here/keys/master" "$here/keys/slave" "$@"
echo "deploy/k8s/gen-keys.sh: keys in $here/keys; now: kubectl apply -k $here" >&2
