// From URLs and options to a running worker: which master source, which slave endpoint, where
// the session keeps its state.
import fs from 'node:fs';
import path from 'node:path';
import { gsyncdError } from '../core/errors.js';
import { mountConfigOf } from '../gluster/mount-options.js';
import type { Logger } from '../log/logger.js';
import type { ResolvedOptions } from '../options/tunables.js';
import { sessionPaths } from '../session/paths.js';
import { normalizeUrl, type ResourceUrl } from '../url/url.js';
import type { MasterSource } from './source.js';
import type { WorkerConfig } from './worker.js';

export function workerConfig(opts: ResolvedOptions, master: ResourceUrl, slave: ResourceUrl): WorkerConfig {
  const paths = sessionPaths(opts, master, slave);
  const words = (s: string) => s.split(/\s+/).filter(Boolean);
  const changeIntervalMs = Math.round(opts.get('change-interval') * 1000);
  return {
    ...paths,
    masterText: normalizeUrl(master),
    slaveText: normalizeUrl(slave),
    changeIntervalMs,
    xtimeSettleMs: Math.round(opts.get('xtime-settle') * 1000),
    once: opts.get('once'),
    turns: opts.get('turns'),
    maxPassRetries: opts.get('max-rsync-retries'),
    resumeHalted: opts.get('resume-halted'),
    expectedVolumeId: opts.get('volume-id'),
    checkpoint: opts.get('checkpoint'),
    slaveMarkRefreshMs: Math.max(changeIntervalMs, 10_000),
    progressIntervalMs: Math.round(opts.get('progress-interval') * 1000),
    // A plain directory's tracker runs its own verification crawl with the same period.
    slaveVerifyIntervalMs: master.kind === 'gluster' ? Math.round(opts.get('verify-interval') * 1000) : 0,
    engine: {
      rsync: {
        command: words(opts.get('rsync-command')),
        extraOptions: [...attributeOptions(opts), ...words(opts.get('rsync-options'))],
        remoteOptions: [...remoteAttributeOptions(opts), ...words(opts.get('rsync-ssh-options'))],
      },
      syncJobs: opts.get('sync-jobs'),
      syncMethod: opts.get('sync-method'),
      tar: {
        command: words(opts.get('tar-command')),
        xattrs: opts.get('sync-xattrs'),
        acls: opts.get('sync-acls'),
        sparse: words(opts.get('rsync-options')).some((o) => o === '--sparse' || /^-[A-Za-z]*S/.test(o)),
      },
      ignoreDeletes: opts.get('ignore-deletes'),
      deletes: {
        // A one-shot run mirrors the master as it finds it: nothing to wait out (the limits apply).
        delayMs: opts.get('once') ? 0 : Math.round(opts.get('delete-delay') * 1000),
        // Under steady removals a pending delete still goes after 12 delays (1 min by default).
        maxHoldMs: Math.round(opts.get('delete-delay') * 12_000),
        windowMs: Math.round(opts.get('max-delete-window') * 1000),
        maxDelete: opts.get('max-delete'),
        maxDeletePercent: opts.get('max-delete-percent'),
      },
      maxRsyncRetries: opts.get('max-rsync-retries'),
      // A batch is also the unit of progress a killed worker keeps (subtrees are marked as they
      // close, after each batch): 4096 entries took minutes through a busy FUSE mount and ssh.
      batchMaxEntries: 1024,
      batchMaxBytes: 1 << 30,
      retryDelayMs: (attempt) => Math.min(30_000, 250 * 2 ** (attempt - 1)),
    },
  };
}

/**
 * rsync options that carry extended attributes and POSIX ACLs along with the data. Only the
 * user namespace is mirrored: trusted.* holds GlusterFS internals (gfid, xtime, dht layout) on
 * a master and on a gluster slave, security.* belongs to the slave host's policy. The filter
 * also keeps rsync from deleting gsyncd's own marks (user.gsyncd.* when not root) on the slave.
 */
export function attributeOptions(opts: ResolvedOptions): string[] {
  return [
    ...(opts.get('sync-xattrs') ? ['--xattrs', ...XATTR_FILTERS] : []),
    ...(opts.get('sync-acls') ? ['--acls'] : []),
  ];
}

/** Which xattrs rsync copies and deletes; `_` separates rule and pattern (no space to quote). */
const XATTR_FILTERS = ['--filter=-x_user.gsyncd.*', '--filter=-x!_user.*'];

/**
 * The same filters for a remote receiver: rsync sends filter rules to the receiving side only when
 * it deletes files, so without these the receiver removes every xattr the sender does not list,
 * gsyncd's marks included. The slave's dispatcher accepts exactly these.
 */
function remoteAttributeOptions(opts: ResolvedOptions): string[] {
  return opts.get('sync-xattrs') ? XATTR_FILTERS.map((f) => `--remote-option=${f}`) : [];
}

export async function openMaster(opts: ResolvedOptions, url: ResourceUrl, sessionDir: string, log: Logger, onVerified?: (changedDirs: number) => void): Promise<MasterSource> {
  switch (url.kind) {
    case 'file': {
      const st = await fs.promises.stat(url.path).catch(() => null);
      if (!st?.isDirectory()) throw gsyncdError('GSYNCD_ERR_USAGE', `master ${url.path} is not a directory`);
      const { TreeTracker } = await import('./tree-tracker.js');
      return new TreeTracker({ root: url.path, stateDir: path.join(sessionDir, 'tracker'), verifyIntervalSec: opts.get('verify-interval'), log, ...(onVerified ? { onVerified } : {}) });
    }
    case 'gluster': {
      const { GlusterSource } = await import('./gluster-source.js');
      return new GlusterSource({ host: url.host, volume: url.volume, ...mountConfigOf(opts), readCacheSec: opts.get('gluster-read-cache'), log });
    }
    case 'ssh':
      throw gsyncdError('GSYNCD_ERR_URL_PAIR', 'a remote (ssh) URL cannot be the master');
  }
}
