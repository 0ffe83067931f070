// Synthetic xtimes for a plain-directory master (no GlusterFS marker): a strictly increasing
// microsecond clock and a per-directory table where "something inside D changed" stamps D and
// every ancestor up to the root with a fresh tick. Pure: the wall clock is injected.
//
// The one rule everything rests on: a bump is strictly greater than every value ever handed out
// (read by the engine, persisted as confirmed, restored at start). The engine stamps a slave
// directory with the xtime it read *before* listing it; any later change bumps above that value,
// so the next pass revisits the directory. A tick is max(wall clock, last + 1), and the clock
// observes every value it is told about (persisted clock, restored baselines), so neither a wall
// clock stepping back nor a restart can hand out a value twice.
import { parentOf, type BytePath } from './bytepath.js';
import type { Xtime } from './xtime.js';

export const US_PER_SEC = 1_000_000;

/** Microseconds since the epoch → marker (sec, usec) pair. */
export function xtimeFromUs(us: number): Xtime {
  const sec = Math.floor(us / US_PER_SEC);
  return { sec, usec: us - sec * US_PER_SEC };
}

export function usFromXtime(x: Xtime): number {
  return x.sec * US_PER_SEC + x.usec;
}

export function wallClockUs(): number {
  return Date.now() * 1000;
}

/** Strictly increasing µs clock; survives the wall clock going backwards. */
export class MonotonicClock {
  private lastUs: number;

  constructor(last = 0, private readonly wall: () => number = wallClockUs) {
    this.lastUs = Math.max(0, Math.floor(last));
  }

  /** The greatest value issued or observed. */
  get last(): number {
    return this.lastUs;
  }

  /** Never issue anything ≤ `us` from now on (a persisted or restored value). */
  observe(us: number): void {
    if (Number.isFinite(us) && us > this.lastUs) this.lastUs = Math.floor(us);
  }

  /** A fresh value, strictly greater than anything issued or observed before. */
  tick(): number {
    const w = Math.floor(this.wall());
    this.lastUs = w > this.lastUs ? w : this.lastUs + 1;
    return this.lastUs;
  }
}

/** Per-directory synthetic xtimes (µs). The root is ''. */
export class XtimeTable {
  private readonly x = new Map<BytePath, number>();

  constructor(readonly clock: MonotonicClock) {}

  get size(): number {
    return this.x.size;
  }

  get(dir: BytePath): number | undefined {
    return this.x.get(dir);
  }

  has(dir: BytePath): boolean {
    return this.x.has(dir);
  }

  /**
   * Something inside `dir` changed: `dir` and every ancestor up to the root get one fresh tick
   * (greater than every earlier value, so ancestors stay ≥ their descendants). Returns the tick.
   */
  bump(dir: BytePath): number {
    const t = this.clock.tick();
    for (let d = dir; ; d = parentOf(d)) {
      this.x.set(d, t);
      if (d === '') break;
    }
    return t;
  }

  /**
   * The confirmed value of an unchanged directory, restored at start. Only when the directory
   * has no value yet (a bump that happened meanwhile wins). Returns whether it was set.
   */
  setBaseline(dir: BytePath, us: number): boolean {
    this.clock.observe(us);
    if (this.x.has(dir)) return false;
    this.x.set(dir, us);
    return true;
  }

  /**
   * The value of a directory met before any bump told us about it (a brand-new directory whose
   * event is still on its way): a fresh tick for it alone. Any later change bumps above it.
   */
  adopt(dir: BytePath): number {
    const cur = this.x.get(dir);
    if (cur !== undefined) return cur;
    const t = this.clock.tick();
    this.x.set(dir, t);
    return t;
  }

  delete(dir: BytePath): void {
    if (dir !== '') this.x.delete(dir);
  }

  /** Drop directories `keep` rejects (the root always stays). O(size). */
  retain(keep: (dir: BytePath) => boolean): number {
    let dropped = 0;
    for (const d of this.x.keys()) {
      if (d !== '' && !keep(d)) {
        this.x.delete(d);
        dropped++;
      }
    }
    return dropped;
  }

  entries(): IterableIterator<[BytePath, number]> {
    return this.x.entries();
  }
}
