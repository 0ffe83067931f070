// The Prometheus registry of one gsyncd process (OBSERVABILITY §3). Names, types and labels are
// frozen from the first release: a rename breaks every dashboard built on them.
//
//   const m = createMetrics('master');        // fresh Registry: default Node metrics + master metrics
//   m.initSession('gv0_b1_gv0b', '0');         // §3.5: every known label combination at 0
//   m.setSyncedUpTo('gv0_b1_gv0b', '0', ms);   // the lag follows at scrape time; undefined removes both
//   await m.registry.metrics();                // text exposition (served by http.ts)
//
//   const s = createMetrics('slave', { slaveRoot: '/data' });   // root checked at scrape time
//   s.initSession('gv0_b1_gv0b');  s.sessionConnected.set({ session }, 1);
//
// Master-side events are translated into these metrics by master-metrics.ts; nothing else needs
// to know the label sets. docs/metrics.md is generated from these registries
// (scripts/gen-metrics-doc.ts) and a test fails when it is stale.
import fs from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  assertBrick, assertSession, batchPhases, crawlStates, haltReasons, opLabels, opResults, opTypes, refusalReasons,
  rsyncResults, skipReasons, sshResults, unknownSession, workerStateLabels, type Role,
} from './labels.js';

/** `gsyncd_batch_duration_seconds`: batches take seconds to hours (prom-client's defaults stop at 10 s). */
export const batchDurationBuckets = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200] as const;

export interface MetricsOptions {
  /** gsyncd_build_info labels; default: version 'unknown', revision 'unknown'. */
  readonly version?: string;
  readonly revision?: string;
  /** Clock (ms) read by collect(); tests pass a fake. */
  readonly now?: () => number;
  /** Where a failing collect() reports (at warn); it never throws. */
  readonly log?: { warn(obj: object, msg: string): void };
}

export interface SlaveMetricsOptions extends MetricsOptions {
  /** The root that gsyncd_slave_root_{writable,free_bytes} check at scrape time. */
  readonly slaveRoot: string;
}

export type MasterMetrics = ReturnType<typeof createMasterMetrics>;
export type SlaveMetrics = ReturnType<typeof createSlaveMetrics>;
export type Metrics = MasterMetrics | SlaveMetrics;

/** A fresh registry for `role`: default Node metrics (no prefix) plus that role's gsyncd metrics. */
export function createMetrics(role: 'master', opts?: MetricsOptions): MasterMetrics;
export function createMetrics(role: 'slave', opts: SlaveMetricsOptions): SlaveMetrics;
export function createMetrics(role: Role, opts: MetricsOptions & Partial<SlaveMetricsOptions> = {}): Metrics {
  if (role === 'master') return createMasterMetrics(opts);
  if (opts.slaveRoot === undefined) throw new TypeError('createMetrics(\'slave\') needs slaveRoot');
  return createSlaveMetrics({ ...opts, slaveRoot: opts.slaveRoot });
}

const EVENT_LOOP_PRECISION_MS = 500;

const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

function baseRegistry(role: Role, opts: MetricsOptions) {
  const registry = new Registry();
  // The event-loop delay histogram samples every `precision` ms: prom-client's 10 ms woke an idle
  // daemon 100 times a second (0.3 % of a core for the monitor alone, above geo-rep's idle cost).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  // Gauges named *_total break Prometheus naming (promtool check metrics flags them); the same
  // counts stay available, by type, in nodejs_active_{handles,requests,resources}.
  for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  const buildInfo = new Gauge({
    name: 'gsyncd_build_info', help: 'Build metadata; always 1',
    labelNames: ['version', 'revision', 'node_version', 'role'] as const, registers: [registry],
  });
  buildInfo.set({ version: opts.version ?? 'unknown', revision: opts.revision ?? 'unknown', node_version: process.version, role }, 1);
  return { registry, buildInfo };
}

/** Run a collect body; on error report at warn and leave the series as the body left them. */
function guarded(opts: MetricsOptions, name: string, body: () => void | Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (err) {
      try { opts.log?.warn({ event: 'metrics.collect_failed', err, metric: name }, 'metric collect failed'); } catch { /* never fail a scrape */ }
    }
  };
}

/** One 0/1 series per state; exactly `current` is 1 (null: all 0). */
export function setStateSet<L extends string>(g: Gauge<L | 'state'>, labels: Partial<Record<L, string>>, states: readonly string[], current: string | null): void {
  for (const s of states) g.set({ ...labels, state: s } as Partial<Record<L | 'state', string>>, s === current ? 1 : 0);
}

function createMasterMetrics(opts: MetricsOptions) {
  const { registry, buildInfo } = baseRegistry('master', opts);
  const now = opts.now ?? Date.now;
  const r = [registry];
  const S = ['session'] as const;
  const SB = ['session', 'brick'] as const;
  /** Current synced_up_to (ms) of each active worker with one: the lag's only input. */
  const syncedUpTo = new Map<string, { session: string; brick: string; ms: number }>();
  const sessions = new Set<string>();
  const bricks = new Set<string>();

  const m = {
    role: 'master' as const,
    registry,
    buildInfo,
    sessionInfo: new Gauge({ name: 'gsyncd_session_info', help: 'Static description of a session for joins; always 1. *_kind is gluster or file; volume is "" for file', labelNames: ['session', 'master_kind', 'master_volume', 'slave_kind', 'slave_host', 'slave_volume', 'sync_method'] as const, registers: r }),
    workerInfo: new Gauge({ name: 'gsyncd_worker_info', help: 'Where each worker runs and which slave node it talks to; always 1', labelNames: ['session', 'brick', 'brick_host', 'slave_node'] as const, registers: r }),
    syncedUpToSeconds: new Gauge({ name: 'gsyncd_synced_up_to_timestamp_seconds', help: 'Every change made on the master before this time (master clock) is on the slave. Absent before the initial sync and for passive workers', labelNames: SB, registers: r }),
    syncLag: new Gauge({
      name: 'gsyncd_sync_lag_seconds', help: 'max(0, now - synced_up_to), computed at scrape time. Absent before the initial sync and for passive workers',
      labelNames: SB, registers: r,
      collect: guarded(opts, 'gsyncd_sync_lag_seconds', function lag() {
        const t = now();
        m.syncLag.reset();
        for (const s of syncedUpTo.values()) m.syncLag.set({ session: s.session, brick: s.brick }, Math.max(0, (t - s.ms) / 1000));
      }),
    }),
    initialSyncCompleted: new Gauge({ name: 'gsyncd_initial_sync_completed', help: '1 once the first full pass has been acknowledged', labelNames: SB, registers: r }),
    lastSuccessfulBatch: new Gauge({ name: 'gsyncd_last_successful_batch_timestamp_seconds', help: 'Last batch or pass acknowledged (success or noop): the progress heartbeat', labelNames: SB, registers: r }),
    pendingOperations: new Gauge({ name: 'gsyncd_pending_operations', help: 'Operations queued and not yet acknowledged', labelNames: ['session', 'brick', 'type'] as const, registers: r }),
    pendingBytes: new Gauge({ name: 'gsyncd_pending_bytes', help: 'Sum of the sizes of queued data files', labelNames: SB, registers: r }),
    batchDuration: new Histogram({ name: 'gsyncd_batch_duration_seconds', help: 'Time per batch phase', labelNames: ['session', 'phase'] as const, buckets: [...batchDurationBuckets], registers: r }),
    batches: new Counter({ name: 'gsyncd_batches_total', help: 'Batches by outcome', labelNames: ['session', 'result'] as const, registers: r }),
    operations: new Counter({ name: 'gsyncd_operations_total', help: 'Entry and data operations applied on the slave', labelNames: ['session', 'op', 'result'] as const, registers: r }),
    transferredBytes: new Counter({ name: 'gsyncd_transferred_bytes_total', help: 'Bytes on the wire (rsync --stats "Total bytes sent"; a tar stream: its archive size)', labelNames: S, registers: r }),
    syncedFileBytes: new Counter({ name: 'gsyncd_synced_file_bytes_total', help: 'Logical file bytes brought in sync', labelNames: S, registers: r }),
    skippedFiles: new Counter({ name: 'gsyncd_skipped_files_total', help: 'Files given up on: each is a hole in the DR copy; the paths are in the logs', labelNames: ['session', 'reason'] as const, registers: r }),
    rsyncRuns: new Counter({ name: 'gsyncd_rsync_runs_total', help: 'rsync runs by exit class (partial = 23, vanished = 24); tar streams (--sync-method) counted alike', labelNames: ['session', 'result'] as const, registers: r }),
    crawlEntries: new Counter({ name: 'gsyncd_crawl_entries_total', help: 'Entries scanned (progress while no synced_up_to exists)', labelNames: SB, registers: r }),
    crawlState: new Gauge({ name: 'gsyncd_crawl_state', help: 'StateSet: current crawl mode, one 0/1 series per state', labelNames: ['session', 'brick', 'state'] as const, registers: r }),
    workerState: new Gauge({ name: 'gsyncd_worker_state', help: 'StateSet: worker state; exactly one series is 1', labelNames: ['session', 'brick', 'state'] as const, registers: r }),
    workerRestarts: new Counter({ name: 'gsyncd_worker_restarts_total', help: 'Worker respawns by the monitor', labelNames: SB, registers: r }),
    slaveConnected: new Gauge({ name: 'gsyncd_slave_connected', help: 'ssh2 connection up and RPC handshake done', labelNames: S, registers: r }),
    sshConnects: new Counter({ name: 'gsyncd_ssh_connects_total', help: 'SSH connection attempts by result', labelNames: ['session', 'result'] as const, registers: r }),
    masterMountUp: new Gauge({ name: 'gsyncd_master_mount_up', help: 'Aux-gfid FUSE mount present and readable (gluster masters only)', labelNames: S, registers: r }),
    safetyHalted: new Gauge({ name: 'gsyncd_safety_halted', help: 'A safety halt is in effect', labelNames: ['session', 'reason'] as const, registers: r }),
    checkpointTimestamp: new Gauge({ name: 'gsyncd_checkpoint_timestamp_seconds', help: 'Checkpoint time T_c (master clock); 0 = no checkpoint', labelNames: S, registers: r }),
    checkpointCompleted: new Gauge({ name: 'gsyncd_checkpoint_completed', help: '1 once synced_up_to >= T_c. Present only while a checkpoint is set', labelNames: S, registers: r }),
    checkpointCompletion: new Gauge({ name: 'gsyncd_checkpoint_completion_timestamp_seconds', help: 'When the checkpoint completed. Present once completed', labelNames: S, registers: r }),
    verifyLastCompleted: new Gauge({ name: 'gsyncd_verify_last_completed_timestamp_seconds', help: 'End of the last verify crawl', labelNames: S, registers: r }),
    verifyDrifted: new Gauge({ name: 'gsyncd_verify_drifted_entries', help: 'Entries that differed in the last verify crawl', labelNames: S, registers: r }),

    /**
     * §3.5: create every known label combination of a session (once) and of its worker (once):
     * counters at 0, gauges at 0, histograms zeroed, StateSets at `initializing` / `initial`.
     * Not created: synced_up_to, the lag, checkpoint completion, the mount gauge.
     */
    initSession(session: string, brick: string): void {
      assertSession(session);
      assertBrick(brick);
      if (!sessions.has(session)) {
        sessions.add(session);
        for (const phase of batchPhases) m.batchDuration.zero({ session, phase });
        for (const result of opResults) m.batches.inc({ session, result }, 0);
        for (const op of opLabels) for (const result of opResults) m.operations.inc({ session, op, result }, 0);
        m.transferredBytes.inc({ session }, 0);
        m.syncedFileBytes.inc({ session }, 0);
        for (const reason of skipReasons) m.skippedFiles.inc({ session, reason }, 0);
        for (const result of rsyncResults) m.rsyncRuns.inc({ session, result }, 0);
        m.slaveConnected.set({ session }, 0);
        for (const result of sshResults) m.sshConnects.inc({ session, result }, 0);
        for (const reason of haltReasons) m.safetyHalted.set({ session, reason }, 0);
        m.checkpointTimestamp.set({ session }, 0);
        m.verifyLastCompleted.set({ session }, 0);
        m.verifyDrifted.set({ session }, 0);
      }
      const key = `${session}\0${brick}`;
      if (bricks.has(key)) return;
      bricks.add(key);
      const sb = { session, brick };
      m.initialSyncCompleted.set(sb, 0);
      m.lastSuccessfulBatch.set(sb, 0);
      for (const type of opTypes) m.pendingOperations.set({ ...sb, type }, 0);
      m.pendingBytes.set(sb, 0);
      m.crawlEntries.inc(sb, 0);
      setStateSet(m.crawlState, sb, crawlStates, 'initial');
      setStateSet(m.workerState, sb, workerStateLabels, 'initializing');
      m.workerRestarts.inc(sb, 0);
    },

    /** The worker's synced_up_to (ms, master clock); undefined (before the initial sync, passive) removes it and the lag. */
    setSyncedUpTo(session: string, brick: string, ms: number | undefined): void {
      const key = `${session}\0${brick}`;
      if (ms === undefined || !Number.isFinite(ms)) {
        syncedUpTo.delete(key);
        m.syncedUpToSeconds.remove({ session, brick });
        m.syncLag.remove({ session, brick });
        return;
      }
      syncedUpTo.set(key, { session, brick, ms });
      m.syncedUpToSeconds.set({ session, brick }, ms / 1000);
    },
  };
  return m;
}

function createSlaveMetrics(opts: SlaveMetricsOptions) {
  const { registry, buildInfo } = baseRegistry('slave', opts);
  const r = [registry];
  const root = opts.slaveRoot;
  const sessions = new Set<string>();
  const m = {
    role: 'slave' as const,
    registry,
    buildInfo,
    sshdUp: new Gauge({ name: 'gsyncd_slave_sshd_up', help: 'The sshd -D child is alive and accepting on its port', registers: r }),
    rootWritable: new Gauge({
      name: 'gsyncd_slave_root_writable', help: 'access(root, W_OK) succeeds with no EROFS or ENOENT; checked at scrape time', registers: r,
      collect: guarded(opts, 'gsyncd_slave_root_writable', async () => {
        const ok = await fs.promises.access(root, fs.constants.W_OK).then(() => true, () => false);
        m.rootWritable.set(ok ? 1 : 0);
      }),
    }),
    rootFreeBytes: new Gauge({
      name: 'gsyncd_slave_root_free_bytes', help: 'Free bytes (statfs) of the file system holding the slave root; checked at scrape time', registers: r,
      // On error the last value stays (a label-less gauge cannot be absent); root_writable says why.
      collect: guarded(opts, 'gsyncd_slave_root_free_bytes', async () => {
        const st = await fs.promises.statfs(root);
        m.rootFreeBytes.set(Number(st.bavail) * Number(st.bsize));
      }),
    }),
    sessionConnected: new Gauge({ name: 'gsyncd_slave_session_connected', help: 'A master session is attached; kept at 0 after disconnect', labelNames: ['session'] as const, registers: r }),
    lastRequest: new Gauge({ name: 'gsyncd_slave_last_request_timestamp_seconds', help: 'Last RPC from the master', labelNames: ['session'] as const, registers: r }),
    entryOps: new Counter({ name: 'gsyncd_slave_entry_ops_total', help: 'Entry ops applied locally', labelNames: ['session', 'op', 'result'] as const, registers: r }),
    rsyncReceives: new Counter({ name: 'gsyncd_slave_rsync_receives_total', help: 'rsync --server runs dispatched, by exit class', labelNames: ['session', 'result'] as const, registers: r }),
    refusals: new Counter({ name: 'gsyncd_slave_refusals_total', help: 'Refused requests by reason; session="unknown" before the handshake', labelNames: ['session', 'reason'] as const, registers: r }),

    /** §3.5 for one attached session (once). */
    initSession(session: string): void {
      assertSession(session);
      if (sessions.has(session)) return;
      sessions.add(session);
      m.sessionConnected.set({ session }, 0);
      m.lastRequest.set({ session }, 0);
      // `data` arrives by rsync, never as an entry op on the slave.
      for (const op of opLabels) if (op !== 'data') for (const result of opResults) m.entryOps.inc({ session, op, result }, 0);
      for (const result of rsyncResults) m.rsyncReceives.inc({ session, result }, 0);
      for (const reason of refusalReasons) m.refusals.inc({ session, reason }, 0);
    },
  };
  m.sshdUp.set(0);
  for (const reason of refusalReasons) m.refusals.inc({ session: unknownSession, reason }, 0);
  return m;
}

/** Every metric of a registry as documented in docs/metrics.md. */
export interface MetricDescription {
  readonly name: string;
  readonly type: string;
  readonly labels: readonly string[];
  readonly help: string;
  /** Histogram bucket upper bounds (without +Inf). */
  readonly buckets?: readonly number[];
  /** Computed by its collect() at scrape time. */
  readonly collected: boolean;
  /** Registered by collectDefaultMetrics, not by gsyncd. */
  readonly builtin: boolean;
}

export function describeMetrics(registry: Registry): MetricDescription[] {
  return registry.getMetricsAsArray().map((metric) => {
    const inner = metric as unknown as { labelNames?: readonly string[]; upperBounds?: readonly number[]; collect?: unknown };
    const labels = (inner.labelNames ?? []).filter((l) => l !== 'le' && l !== 'quantile');
    const buckets = String(metric.type) === 'histogram' && inner.upperBounds ? { buckets: [...inner.upperBounds] } : {};
    return { name: metric.name, type: String(metric.type), labels, help: metric.help, ...buckets, collected: typeof inner.collect === 'function', builtin: !metric.name.startsWith('gsyncd_') };
  });
}
