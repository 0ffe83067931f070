// Progress of a running pass: a `crawl.progress` log line every progress-interval (entries
// scanned, bytes sent, rates; during the initial sync also percent and ETA against an estimate
// of the tree) and, on an interactive terminal, the same as one line on stderr.
import fs from 'node:fs';
import path from 'node:path';
import { formatProgress, progressLine } from '../core/progress.js';
import type { Logger } from '../log/logger.js';
import type { MasterSource } from './source.js';

export class PassProgress {
  /** Entries scanned and bytes sent in the current pass. */
  scanned = 0;
  bytesSent = 0;

  constructor(private readonly master: MasterSource, private readonly log: Logger, private readonly everyMs: number) {}

  start(initial: boolean): { stop(): void } {
    const every = this.everyMs;
    const started = Date.now();
    const tty = process.stderr.isTTY === true;
    let estimate: number | null = null;
    if (initial && (every > 0 || tty)) void estimateEntries(this.master).then((n) => { estimate = n; });
    const line = () => progressLine({ scanned: this.scanned, bytesSent: this.bytesSent, elapsedMs: Date.now() - started, estimate });
    this.scanned = 0;
    this.bytesSent = 0;
    const timers = [
      every > 0 ? setInterval(() => this.log.info(line(), 'crawl progress'), every) : null,
      tty ? setInterval(() => process.stderr.write(`\r  ${formatProgress(line())}   `), 500) : null,
    ];
    return {
      stop: () => {
        for (const t of timers) if (t) clearInterval(t);
        if (tty && Date.now() - started >= 500) process.stderr.write('\n');
      },
    };
  }
}

/** Number of GlusterFS's own `.glusterfs/xx/yy` directories on a brick (not data). */
const GLUSTER_INTERNAL_DIRS = 256 + 256 * 256;

/**
 * Rough size of the master tree for an ETA: used inodes of its file system. Only when that file
 * system is the master's own (a GlusterFS volume, or a directory that is a mount point); a plain
 * directory on a shared file system gets no estimate rather than a wrong one.
 */
async function estimateEntries(master: MasterSource): Promise<number | null> {
  try {
    const root = master.root;
    if (master.kind === 'file') {
      const [here, parent] = await Promise.all([fs.promises.stat(root), fs.promises.stat(path.dirname(root))]);
      if (here.dev === parent.dev && here.ino !== parent.ino) return null;
    }
    const st = await fs.promises.statfs(root);
    const used = st.files - st.ffree - (master.kind === 'gluster' ? GLUSTER_INTERNAL_DIRS : 0);
    return used > 0 ? used : null;
  } catch {
    return null;
  }
}
