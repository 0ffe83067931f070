// Whether this master may be synced by this session, judged by its volume id. Pure: the ids
// in, a verdict out. A volume deleted and re-created under the same name has a new id and none
// of our marks: syncing it as "never synced" would delete the slave's copy of the old one.

export interface MasterIdentity {
  /** The master's volume id now. */
  readonly now: string;
  /** --volume-id ('' or absent = learn it on the first run). */
  readonly expected?: string | undefined;
  /** The id this session recorded. */
  readonly known?: string | undefined;
  readonly everSynced: boolean;
  /** The operator confirmed a replaced master (--resume-halted after root_type_changed). */
  readonly acceptReplaced: boolean;
  /** A GlusterFS master; a directory master's id is ours (its tracker's), its replacement is caught by root identity. */
  readonly gluster: boolean;
}

export type MasterIdentityVerdict =
  | { readonly kind: 'refuse'; readonly why: string }
  | { readonly kind: 'same' }
  /** Recorded as this session's master from now on; `was` = the id it replaces, if any. */
  | { readonly kind: 'adopt'; readonly was: string | undefined };

export function masterIdentityVerdict(m: MasterIdentity): MasterIdentityVerdict {
  if (m.expected && m.expected.toLowerCase() !== m.now.toLowerCase()) {
    return { kind: 'refuse', why: `the master volume id is ${m.now}, not ${m.expected} as --volume-id says` };
  }
  if (m.known && m.known !== m.now && m.everSynced && !m.acceptReplaced && m.gluster) {
    return { kind: 'refuse', why: `the master volume id is ${m.now}, but this session synced ${m.known} (volume deleted and re-created?)` };
  }
  return m.known === m.now ? { kind: 'same' } : { kind: 'adopt', was: m.known || undefined };
}
