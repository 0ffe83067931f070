// What becomes of a name the slave has and the master lacks, in one directory's listing.
// Pure: the name and what the listing says about it in, a verdict out.

/**
 * - 'keep': it vanished on the master while the directory was listed (a rename in progress,
 *   most likely, whose new name may not be in this listing yet). Kept for now: the change came
 *   after the xtime read before the listing, so the next pass revisits and decides.
 * - 'delete-now': the master reuses the name with another type (a type swap): it must go first.
 * - 'defer': deleted at the end of the pass, unless a rename of the pass moves it away first.
 * - 'ignore': deletes are not propagated (--ignore-deletes).
 */
export type ExtraNameVerdict = 'keep' | 'delete-now' | 'defer' | 'ignore';

export function extraNameVerdict(name: string, missing: ReadonlySet<string>, vanished: ReadonlySet<string> | null, ignoreDeletes: boolean): ExtraNameVerdict {
  if (missing.has(name)) return 'delete-now';
  if (vanished?.has(name)) return 'keep';
  return ignoreDeletes ? 'ignore' : 'defer';
}
