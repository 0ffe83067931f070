// An in-memory DispatchProbe for the dispatcher's unit tests (no real files).
import path from 'node:path';
import type { DispatchProbe } from '../../../src/slave/dispatch-policy.js';

/** A probe over a tree of directories and symlinks (link → target, absolute or relative). */
export function memProbe(dirs: readonly string[], links: Readonly<Record<string, string>>, mounts = ''): DispatchProbe {
  const dirSet = new Set(['/', ...dirs]);
  const realpath = (p: string, depth = 0): string | null => {
    if (depth > 40) return null;
    let cur = '/';
    for (const part of path.resolve(p).split('/').filter(Boolean)) {
      const next = path.join(cur, part);
      const link = links[next];
      if (link !== undefined) {
        const r = realpath(path.resolve(cur, link), depth + 1);
        if (r === null) return null;
        cur = r;
      } else if (dirSet.has(next)) {
        cur = next;
      } else {
        return null;
      }
    }
    return cur;
  };
  return { realpath: (p) => realpath(p), isSymlink: (p) => links[path.resolve(p)] !== undefined, mounts: () => mounts };
}
