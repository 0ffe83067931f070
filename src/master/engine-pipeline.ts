// One batch applied while the walk goes on: the pass lists the next directories while the slave
// applies the previous batch (listing and flushing no longer wait for each other). At most one
// batch is in flight, so batches still reach the slave in order.
import type { MasterEntry } from '../core/entry.js';
import type { IdMap } from '../core/id-map.js';

export class FlushPipeline {
  private inFlight: Promise<void> | null = null;
  private running = false;

  /** A batch is being applied now. */
  get busy(): boolean {
    return this.running;
  }

  /** Start applying a batch, once the one before it is done (whose error is raised here). */
  async start(apply: () => Promise<void>): Promise<void> {
    await this.settle();
    this.running = true;
    const p = apply().finally(() => { this.running = false; });
    p.catch(() => { /* raised by settle() */ });
    this.inFlight = p;
  }

  /** Wait until no batch is in flight; raises what the last one raised. */
  async settle(): Promise<void> {
    const p = this.inFlight;
    if (!p) return;
    try {
      await p;
    } finally {
      if (this.inFlight === p) this.inFlight = null;
    }
  }
}

/**
 * Whether deciding on this listing reads what a batch in flight will record: an object the id
 * map already knows elsewhere (a rename or link source, maybe moved by that batch), or a file
 * with other names (that batch may be sending one of them: linked after it, not copied).
 */
export function waitsForFlight(listing: readonly MasterEntry[] | null, ids: IdMap): boolean {
  return !!listing?.some((e) => (e.type === 'file' && e.nlink > 1) || ids.pathsOf(e.id).length > 0);
}
