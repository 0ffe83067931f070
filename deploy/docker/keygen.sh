#!/bin/bash
# gsyncd-keygen MASTER_DIR SLAVE_DIR [SLAVE_HOST...] — throwaway SSH trust for a master/slave
# pair, made on first start (the compose `keygen` service; also usable by hand for Kubernetes
# Secrets, see deploy/k8s/gen-keys.sh). Nothing is baked into images: keys live only in the two
# directories (named volumes), and the master never sees the slave's host key, nor the slave
# the master's private key.
#
#   MASTER_DIR/ssh-privatekey   the master's login key (ed25519; kept once made)
#   MASTER_DIR/ssh-publickey    its public half
#   MASTER_DIR/known_hosts      the slave host key under each SLAVE_HOST (default: slave),
#                               plus the lines in $SLAVE_KNOWN_HOSTS (for slaves elsewhere)
#   SLAVE_DIR/ssh_host_ed25519_key(.pub)  the slave's sshd host key (kept once made)
#   SLAVE_DIR/authorized_keys   the master's public key (the slave entrypoint adds the forced
#                               command and `restrict`)
#
# File names are those of the Kubernetes Secrets in deploy/k8s (kubernetes.io/ssh-auth for the
# master), so one layout serves both. Idempotent: existing keys are kept, derived files are
# rewritten. Prints what a slave elsewhere needs (the authorized_keys line).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 MASTER_DIR SLAVE_DIR [SLAVE_HOST...]" >&2; exit 64; }
master=$1 slave=$2; shift 2
hosts=("$@"); [ ${#hosts[@]} -gt 0 ] || hosts=(slave)
umask 077
mkdir -p "$master" "$slave"

if [ ! -s "$slave/ssh_host_ed25519_key" ]; then
  rm -f "$slave/ssh_host_ed25519_key" "$slave/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C "gsyncd-slave-host" -f "$slave/ssh_host_ed25519_key"
  echo "gsyncd-keygen: made the slave host key" >&2
fi
ssh-keygen -y -f "$slave/ssh_host_ed25519_key" > "$slave/ssh_host_ed25519_key.pub"

if [ ! -s "$master/ssh-privatekey" ]; then
  rm -f "$master/ssh-privatekey" "$master/ssh-privatekey.pub"
  ssh-keygen -q -t ed25519 -N '' -C "gsyncd-master" -f "$master/ssh-privatekey"
  rm -f "$master/ssh-privatekey.pub"
  echo "gsyncd-keygen: made the master login key" >&2
fi
ssh-keygen -y -f "$master/ssh-privatekey" > "$master/ssh-publickey"

cp "$master/ssh-publickey" "$slave/authorized_keys.tmp" && mv -f "$slave/authorized_keys.tmp" "$slave/authorized_keys"

hostkey=$(cut -d' ' -f1,2 "$slave/ssh_host_ed25519_key.pub")
{
  echo "# written by gsyncd-keygen: the slave's sshd host key"
  ( IFS=,; echo "${hosts[*]} $hostkey" )
  if [ -n "${SLAVE_KNOWN_HOSTS:-}" ]; then echo "# from SLAVE_KNOWN_HOSTS"; printf '%s\n' "$SLAVE_KNOWN_HOSTS"; fi
} > "$master/known_hosts.tmp" && mv -f "$master/known_hosts.tmp" "$master/known_hosts"

# readable by the processes that use them (root in both images); public halves by anyone
chmod 0400 "$master/ssh-privatekey" "$slave/ssh_host_ed25519_key"
chmod 0444 "$master/ssh-publickey" "$master/known_hosts" "$slave/ssh_host_ed25519_key.pub" "$slave/authorized_keys"

echo "gsyncd-keygen: master key $(ssh-keygen -l -f "$master/ssh-publickey" | awk '{print $2}'), slave host key $(ssh-keygen -l -f "$slave/ssh_host_ed25519_key.pub" | awk '{print $2}') for ${hosts[*]}" >&2
echo "gsyncd-keygen: for a slave elsewhere, add to its authorized_keys (user gsyncd):" >&2
echo "command=\"gsyncd --dispatch --root /data\",restrict $(cat "$master/ssh-publickey")" >&2
