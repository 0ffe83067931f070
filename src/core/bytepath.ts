// Paths on Linux are bytes, not text: names may be invalid UTF-8. Inside gsyncd a path is a
// "byte string": a JS string whose every char is one byte (latin1). It round-trips losslessly
// through JSON, Maps and sorting; effects convert it to a Buffer at the fs edge.

export type BytePath = string;

export function pathBytes(p: BytePath): Buffer {
  return Buffer.from(p, 'latin1');
}

export function fromBytes(b: Buffer): BytePath {
  return b.toString('latin1');
}

/** Text form for logs and messages (invalid UTF-8 shown as U+FFFD). */
export function displayPath(p: BytePath): string {
  return pathBytes(p).toString('utf8');
}

/** From a user-typed (UTF-8) path string to a byte string. */
export function fromText(s: string): BytePath {
  return Buffer.from(s, 'utf8').toString('latin1');
}

export function joinRel(dir: BytePath, name: BytePath): BytePath {
  return dir === '' || dir === '.' ? name : `${dir}/${name}`;
}

export function parentOf(rel: BytePath): BytePath {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

export function baseName(rel: BytePath): BytePath {
  const i = rel.lastIndexOf('/');
  return i < 0 ? rel : rel.slice(i + 1);
}

export function depthOf(rel: BytePath): number {
  if (rel === '') return 0;
  let d = 1;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 0x2f) d++;
  return d;
}

/** True when `rel` is `dir` itself or lies below it. */
export function isWithin(rel: BytePath, dir: BytePath): boolean {
  return dir === '' || rel === dir || rel.startsWith(dir + '/');
}
