// xtime/stime values: the marker translator's 8-byte big-endian (seconds, microseconds) pair.
// Comparison is lexicographic on the pair. URXTIME is "minus infinity": never synced.

export interface Xtime {
  readonly sec: number;
  readonly usec: number;
}

export const URXTIME: Xtime = Object.freeze({ sec: -1, usec: 0 });

export function compareXtime(a: Xtime, b: Xtime): number {
  return a.sec !== b.sec ? a.sec - b.sec : a.usec - b.usec;
}

export function xtimeNewer(a: Xtime, b: Xtime): boolean {
  return compareXtime(a, b) > 0;
}

export function maxXtime(a: Xtime, b: Xtime): Xtime {
  return compareXtime(a, b) >= 0 ? a : b;
}

export function encodeXtime(x: Xtime): Buffer {
  if (x.sec < 0) throw new RangeError('cannot encode URXTIME');
  const b = Buffer.alloc(8);
  b.writeUInt32BE(x.sec >>> 0, 0);
  b.writeUInt32BE(x.usec >>> 0, 4);
  return b;
}

/** null when the value is not an 8-byte mark (the caller decides whether that is corruption). */
export function decodeXtime(b: Buffer | null | undefined): Xtime | null {
  if (!b || b.length !== 8) return null;
  return { sec: b.readUInt32BE(0), usec: b.readUInt32BE(4) };
}

export function xtimeFromMs(ms: number): Xtime {
  const sec = Math.floor(ms / 1000);
  return { sec, usec: Math.floor((ms - sec * 1000) * 1000) };
}

export function xtimeToMs(x: Xtime): number {
  return x.sec * 1000 + x.usec / 1000;
}

export function formatXtime(x: Xtime): string {
  return x.sec < 0 ? '-inf' : `${x.sec}.${String(x.usec).padStart(6, '0')}`;
}
