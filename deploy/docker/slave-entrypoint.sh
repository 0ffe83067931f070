#!/bin/bash
# gsyncd-slave-entrypoint [slave-agent ROOT | CMD...] — start-up of the gsyncd slave image
# (ENTRYPOINT ["tini", "--", "gsyncd-slave-entrypoint"], CMD ["slave-agent", "/data"]).
#
# Runs as root (sshd must be root to switch to the login user). By default everything that
# handles data from the master runs as the unprivileged login user `gsyncd`: sshd starts the
# forced command (the gsyncd dispatcher) as that user, and the dispatcher starts
# `gsyncd --slave` or `rsync --server` confined to the slave root. An unprivileged slave cannot
# give files their owners: the master must then not ask rsync for super-user work
# (GSYNCD_RSYNC_OPTIONS="--no-super" on the master), and files belong to gsyncd on the
# slave. To keep owners, set LOGIN_USER=root here and use ssh://root@HOST:/data on the master:
# root may then log in only with a key that has the forced command
# (PermitRootLogin forced-commands-only).
#
# 1. Host keys: copied from $SSH_INPUT_DIR (default /etc/gsyncd/ssh: a read-only volume or a
#    Kubernetes Secret, whose files are symlinks with modes sshd refuses) to /run/gsyncd/sshd
#    with mode 0600. Files: ssh_host_ed25519_key (and/or _ecdsa_, _rsa_). None there: a
#    throwaway ed25519 key is made, with a warning (the master's known_hosts cannot match it).
# 2. authorized_keys: each plain public key in $SSH_INPUT_DIR/authorized_keys gets the forced
#    command and `restrict`:
#      command="gsyncd --dispatch --root ROOT $DISPATCH_ARGS",restrict KEY
#    A line that already has options is kept only if it has its own command="..." (otherwise
#    it would allow a shell) and always gets `restrict` if it lacks it.
# 3. The slave root is created and handed to the login user (only the root directory itself;
#    its contents keep their owners).
# 4. Then: `slave-agent ROOT` runs `gsyncd slave-agent ROOT` (which supervises `sshd -D` and
#    serves /metrics, /livez, /readyz, /healthz on GSYNCD_HTTP_BIND) when this gsyncd has that
#    command; when it does not (SLAVE_AGENT=auto finds no "slave-agent" in `gsyncd --help`, or
#    SLAVE_AGENT=no), it runs `sshd -D -e` as the main process instead and marks this in
#    /run/gsyncd/sshd-only so that gsyncd-healthcheck checks sshd and the root instead of HTTP.
#    Any other first word is run as given when it is a program (`bash`, `gsyncd-keygen`), else
#    handed to gsyncd (`--version`), without the set-up above.
#
# Environment: SSH_INPUT_DIR, DISPATCH_ARGS (e.g. "--allow-volume gv0"), SLAVE_AGENT=auto|yes|no,
# LOGIN_USER (default gsyncd, or root; must exist in the image).
set -euo pipefail

SSH_INPUT_DIR=${SSH_INPUT_DIR:-/etc/gsyncd/ssh}
DISPATCH_ARGS=${DISPATCH_ARGS:-}
SLAVE_AGENT=${SLAVE_AGENT:-auto}
LOGIN_USER=${LOGIN_USER:-gsyncd}
RUN_DIR=/run/gsyncd
SSHD_DIR=$RUN_DIR/sshd
GSYNCD=/usr/local/bin/gsyncd

log() { printf '{"level":"info","role":"slave-entrypoint","msg":"%s"}\n' "$*" >&2; }
warn() { printf '{"level":"warn","role":"slave-entrypoint","msg":"%s"}\n' "$*" >&2; }
die() { printf '{"level":"fatal","role":"slave-entrypoint","msg":"%s"}\n' "$*" >&2; exit 78; }

# anything but `slave-agent`: a program in PATH (bash, gsyncd-keygen…) or gsyncd's own arguments
if [ "${1:-}" != slave-agent ]; then
  if [ $# -gt 0 ] && command -v "$1" >/dev/null 2>&1; then exec "$@"; fi
  exec "$GSYNCD" "$@"
fi
root=/data
for a in "${@:2}"; do case "$a" in -*) ;; *) root=$a ;; esac; done
case "$root" in /*) ;; *) die "the slave root must be an absolute path, got '$root'" ;; esac

id "$LOGIN_USER" >/dev/null 2>&1 || die "login user $LOGIN_USER does not exist in this image"
install -d -m 0755 "$RUN_DIR" "$SSHD_DIR" "$SSHD_DIR/authorized_keys" /run/sshd
rm -f "$RUN_DIR/sshd-only" "$SSHD_DIR"/*.conf

# 1. host keys
have_key=0
: > "$SSHD_DIR/hostkeys.conf.tmp"
for t in ed25519 ecdsa rsa; do
  src=$SSH_INPUT_DIR/ssh_host_${t}_key
  if [ -e "$src" ]; then
    install -m 0600 -o root -g root /dev/null "$SSHD_DIR/ssh_host_${t}_key"
    cat "$src" > "$SSHD_DIR/ssh_host_${t}_key"
    ssh-keygen -y -f "$SSHD_DIR/ssh_host_${t}_key" > "$SSHD_DIR/ssh_host_${t}_key.pub" \
      || die "$src is not a usable private key"
    echo "HostKey $SSHD_DIR/ssh_host_${t}_key" >> "$SSHD_DIR/hostkeys.conf.tmp"
    have_key=1
  fi
done
if [ "$have_key" = 0 ]; then
  warn "no host key in $SSH_INPUT_DIR: using a throwaway ed25519 key; masters that check known_hosts will refuse it"
  rm -f "$SSHD_DIR/ssh_host_ed25519_key" "$SSHD_DIR/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C "gsyncd-slave-throwaway" -f "$SSHD_DIR/ssh_host_ed25519_key"
  echo "HostKey $SSHD_DIR/ssh_host_ed25519_key" >> "$SSHD_DIR/hostkeys.conf.tmp"
fi
mv -f "$SSHD_DIR/hostkeys.conf.tmp" "$SSHD_DIR/hostkeys.conf"
if [ "$LOGIN_USER" = root ]; then
  printf 'AllowUsers root\nPermitRootLogin forced-commands-only\n' > "$SSHD_DIR/login.conf"
else
  printf 'AllowUsers %s\nPermitRootLogin no\n' "$LOGIN_USER" > "$SSHD_DIR/login.conf"
fi
for pub in "$SSHD_DIR"/ssh_host_*_key.pub; do log "host key $(ssh-keygen -l -f "$pub" | awk '{print $2, $4}')"; done

# 2. authorized_keys with the forced command
forced="command=\"$GSYNCD --dispatch --root $root${DISPATCH_ARGS:+ $DISPATCH_ARGS}\",restrict"
ak_out=$SSHD_DIR/authorized_keys/$LOGIN_USER
: > "$ak_out.tmp"
n=0
if [ -e "$SSH_INPUT_DIR/authorized_keys" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    case "$line" in ''|'#'*) continue ;; esac
    case "$line" in
      ssh-*|ecdsa-sha2-*|sk-*)
        printf '%s %s\n' "$forced" "$line" >> "$ak_out.tmp" ;;
      *command=*)
        case "$line" in *restrict*) printf '%s\n' "$line" ;; *) printf 'restrict,%s\n' "$line" ;; esac >> "$ak_out.tmp" ;;
      *)
        warn "authorized_keys: skipped a line with options but no command=\"...\" (it would allow a shell)"; continue ;;
    esac
    n=$((n + 1))
  done < "$SSH_INPUT_DIR/authorized_keys"
fi
chmod 0644 "$ak_out.tmp" && mv -f "$ak_out.tmp" "$ak_out"
if [ "$n" = 0 ]; then warn "no key in $SSH_INPUT_DIR/authorized_keys: no master can log in"; else log "$n authorized key(s) for $LOGIN_USER, forced command: $GSYNCD --dispatch --root $root${DISPATCH_ARGS:+ $DISPATCH_ARGS}"; fi

# 3. the slave root
mkdir -p "$root"
if [ "$LOGIN_USER" != root ]; then
  chown "$LOGIN_USER:" "$root" 2>/dev/null || warn "cannot chown $root to $LOGIN_USER (read-only or foreign file system?)"
fi

# 4. run
/usr/sbin/sshd -t || die "sshd -t: the sshd configuration is invalid"
agent=$SLAVE_AGENT
if [ "$agent" = auto ]; then
  if "$GSYNCD" --help 2>/dev/null | grep -q 'slave-agent'; then agent=yes; else agent=no; fi
fi
if [ "$agent" = yes ]; then
  # sshd is configured above (keys, forced commands): the agent supervises that configuration.
  log "starting: gsyncd $* --sshd-config /etc/ssh/sshd_config"
  exec "$GSYNCD" "$@" --sshd-config /etc/ssh/sshd_config
fi
warn "this gsyncd has no slave-agent command: running sshd -D as the main process (no slave metrics; the health check tests sshd and $root)"
printf '%s\n' "$root" > "$RUN_DIR/sshd-only"
exec /usr/sbin/sshd -D -e
