// "Did you mean …?" for unknown option names and config keys.

/** Edit distance (insert, delete, substitute each cost 1). */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, substitute));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** Upstream GlusterFS renamed master/slave to primary/secondary; map a user's upstream spelling back. */
export function toMasterSlaveSpelling(name: string): string {
  return name.replace(/primary/g, 'master').replace(/secondary/g, 'slave');
}

/**
 * The closest candidate, or undefined when nothing is plausibly what the user meant.
 * Names compare with `_` read as `-`, and primary/secondary read as master/slave first,
 * so `secondary_timeout` suggests `slave-timeout` although the raw distance is large.
 */
export function closestName(input: string, candidates: readonly string[]): string | undefined {
  const wanted = toMasterSlaveSpelling(input.replace(/_/g, '-').toLowerCase());
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = levenshtein(wanted, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const tolerance = Math.max(2, Math.floor(wanted.length / 3));
  return bestDistance <= tolerance ? best : undefined;
}

/** ` (did you mean 'X'?)` or empty; `quote` formats the candidate (e.g. adds `--`). */
export function didYouMean(input: string, candidates: readonly string[], quote = (s: string) => s): string {
  const hit = closestName(input, candidates);
  return hit === undefined ? '' : ` (did you mean '${quote(hit)}'?)`;
}
