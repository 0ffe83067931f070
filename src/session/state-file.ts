// The session's durable state: worker state, synced-up-to, the safety-halt latch. Written
// atomically (temp + fsync + rename + dir fsync) so a crash leaves the old or the new version.
import fs from 'node:fs';
import type { Checkpoint } from '../core/checkpoint.js';
import type { HaltReason } from '../core/safety.js';
import type { WorkerState } from '../core/states.js';
import { atomicWrite } from '../fs/durable.js';

export interface SessionState {
  version: 1;
  session: string;
  master: string;
  slave: string;
  workerState: WorkerState;
  crawlState: string;
  pid: number;
  updatedAt: string;
  /** Master-clock time (ms) up to which every change is on the slave; absent before the first full pass. */
  syncedUpTo?: number;
  /** Root mark (xtime, "sec.usec") of the last complete pass. */
  rootStime?: string;
  initialSyncCompleted: boolean;
  /** code: the GSYNCD_ERR_* of a worker that could not start (the monitor's retry budget depends on it). */
  lastError?: { message: string; at: string; code?: string };
  halt?: { reason: HaltReason; since: string; detail: string };
  slaveIdentity?: { rootDev: string; rootIno: string };
  /** Id of the master volume (or tracked directory) this session synced: another one is refused. */
  masterVolumeId?: string;
  restarts: number;
  /** The monitor stopped respawning the worker (--max-failures); cleared by the next run. */
  monitorGaveUp?: { at: string; failures: number };
  lastPass?: { at: string; dirsVisited: number; entryOps: number; dataFiles: number; bytesSent: number; failures: number };
  checkpoint?: Checkpoint;
}

export function readState(file: string): SessionState | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as SessionState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // A torn file cannot happen with atomic writes; an unreadable one is treated as absent
    // (the marks on the slave, not this file, decide what is synced).
    return null;
  }
}

export function writeState(file: string, state: SessionState): void {
  state.updatedAt = new Date().toISOString();
  atomicWrite(file, JSON.stringify(state, null, 2) + '\n');
}
