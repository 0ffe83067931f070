// What the dispatcher decides and with what: the policy (root, allowed volumes, how to run
// gsyncd, rsync and tar), the file-system reads it may make (a replaceable probe) and the decision.
// Types only, and the refusal constructor.

export type DispatchRefusal = 'forbidden_command' | 'path_escape' | 'absolute_path' | 'nul_byte' | 'bad_option';

export type DispatchDecision =
  | { readonly kind: 'slave'; readonly argv: string[] }
  | { readonly kind: 'rsync'; readonly argv: string[] }
  | { readonly kind: 'tar'; readonly argv: string[] }
  | { readonly kind: 'refuse'; readonly reason: DispatchRefusal; readonly message: string };

export interface DispatchPolicy {
  /** The only directory a master may write (slave root and rsync target). */
  readonly root: string;
  /** GlusterFS volumes on this host a master may use as slave (served through aux mounts). */
  readonly allowVolumes: readonly string[];
  /** How to run ourselves, e.g. [process.execPath, '/usr/lib/gsyncd/bin/gsyncd.js']. */
  readonly gsyncdArgv: readonly string[];
  /** The rsync program to run. */
  readonly rsyncPath: string;
  /**
   * Let `tar --extract` write into the area (a master's --sync-method tar). Off unless asked
   * for: GNU tar follows a symlink on the way to a member (rsync 3.5 refuses to), so a master
   * that wrote a symlink into the root can have a later stream write where it points.
   */
  readonly allowTar?: boolean;
  /** The tar program to run (GNU tar). */
  readonly tarPath?: string;
  /** Extra basenames accepted for gsyncd (the master's --remote-gsyncd); 'gsyncd' and 'gsyncd.js' always are. */
  readonly programNames?: readonly string[];
  /** Directories holding aux mounts (gsyncd-aux-mount-*); default /tmp and the OS temp dir. */
  readonly auxMountParents?: readonly string[];
}

/** The file-system reads decideDispatch needs (replaceable in tests). */
export interface DispatchProbe {
  /** Real path, or null when it cannot be resolved (absent, dangling, no access). */
  realpath(p: string): string | null;
  /** True when `p` itself is a symbolic link (lstat). */
  isSymlink(p: string): boolean;
  /** The mount table, /proc/mounts format. */
  mounts(): string;
}

export const refuse = (reason: DispatchRefusal, message: string): DispatchDecision => ({ kind: 'refuse', reason, message });
