import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { attachMasterMetrics } from '../../../src/master/master-metrics.js';
import { batchDurationBuckets, createMetrics, describeMetrics } from '../../../src/observe/metrics.js';
import { find, samples, type Sample } from './support.js';

// OBSERVABILITY §3.3 and §3.4, restated on purpose: the names are a frozen contract.
const masterSpec: Array<[string, string, string[]]> = [
  ['gsyncd_build_info', 'gauge', ['version', 'revision', 'node_version', 'role']],
  ['gsyncd_session_info', 'gauge', ['session', 'master_kind', 'master_volume', 'slave_kind', 'slave_host', 'slave_volume', 'sync_method']],
  ['gsyncd_worker_info', 'gauge', ['session', 'brick', 'brick_host', 'slave_node']],
  ['gsyncd_synced_up_to_timestamp_seconds', 'gauge', ['session', 'brick']],
  ['gsyncd_sync_lag_seconds', 'gauge', ['session', 'brick']],
  ['gsyncd_initial_sync_completed', 'gauge', ['session', 'brick']],
  ['gsyncd_last_successful_batch_timestamp_seconds', 'gauge', ['session', 'brick']],
  ['gsyncd_pending_operations', 'gauge', ['session', 'brick', 'type']],
  ['gsyncd_pending_bytes', 'gauge', ['session', 'brick']],
  ['gsyncd_batch_duration_seconds', 'histogram', ['session', 'phase']],
  ['gsyncd_batches_total', 'counter', ['session', 'result']],
  ['gsyncd_operations_total', 'counter', ['session', 'op', 'result']],
  ['gsyncd_transferred_bytes_total', 'counter', ['session']],
  ['gsyncd_synced_file_bytes_total', 'counter', ['session']],
  ['gsyncd_skipped_files_total', 'counter', ['session', 'reason']],
  ['gsyncd_rsync_runs_total', 'counter', ['session', 'result']],
  ['gsyncd_crawl_entries_total', 'counter', ['session', 'brick']],
  ['gsyncd_crawl_state', 'gauge', ['session', 'brick', 'state']],
  ['gsyncd_worker_state', 'gauge', ['session', 'brick', 'state']],
  ['gsyncd_worker_restarts_total', 'counter', ['session', 'brick']],
  ['gsyncd_slave_connected', 'gauge', ['session']],
  ['gsyncd_ssh_connects_total', 'counter', ['session', 'result']],
  ['gsyncd_master_mount_up', 'gauge', ['session']],
  ['gsyncd_safety_halted', 'gauge', ['session', 'reason']],
  ['gsyncd_checkpoint_timestamp_seconds', 'gauge', ['session']],
  ['gsyncd_checkpoint_completed', 'gauge', ['session']],
  ['gsyncd_checkpoint_completion_timestamp_seconds', 'gauge', ['session']],
  ['gsyncd_verify_last_completed_timestamp_seconds', 'gauge', ['session']],
  ['gsyncd_verify_drifted_entries', 'gauge', ['session']],
];
const slaveSpec: Array<[string, string, string[]]> = [
  ['gsyncd_build_info', 'gauge', ['version', 'revision', 'node_version', 'role']],
  ['gsyncd_slave_sshd_up', 'gauge', []],
  ['gsyncd_slave_root_writable', 'gauge', []],
  ['gsyncd_slave_root_free_bytes', 'gauge', []],
  ['gsyncd_slave_session_connected', 'gauge', ['session']],
  ['gsyncd_slave_last_request_timestamp_seconds', 'gauge', ['session']],
  ['gsyncd_slave_entry_ops_total', 'counter', ['session', 'op', 'result']],
  ['gsyncd_slave_rsync_receives_total', 'counter', ['session', 'result']],
  ['gsyncd_slave_refusals_total', 'counter', ['session', 'reason']],
];

const gsyncd = (s: Sample[]) => s.filter((x) => x.name.startsWith('gsyncd_'));

describe('createMetrics', () => {
  for (const [role, spec] of [['master', masterSpec], ['slave', slaveSpec]] as const) {
    it(`${role}: exactly the spec's metrics, types and labels`, () => {
      const ours = describeMetrics((role === 'master' ? createMetrics(role) : createMetrics(role, { slaveRoot: '/' })).registry).filter((d) => !d.builtin);
      assert.deepEqual(ours.map((d) => [d.name, d.type, [...d.labels]]), spec);
    });
  }

  it('registers the default Node metrics without a prefix, in a fresh registry each time', async () => {
    const a = createMetrics('master');
    const b = createMetrics('master');
    assert.notEqual(a.registry, b.registry);
    const names = new Set((await samples(a.registry)).map((s) => s.name));
    for (const n of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) assert.ok(names.has(n), n);
  });

  it('build info carries the role', async () => {
    const s = await samples(createMetrics('slave', { version: '9.9.9', revision: 'abc', slaveRoot: '/' }).registry);
    assert.deepEqual(find(s, 'gsyncd_build_info').map((x) => x.labels), [{ version: '9.9.9', revision: 'abc', node_version: process.version, role: 'slave' }]);
  });

  it('batch duration buckets are the spec\'s, not prom-client\'s defaults', () => {
    assert.deepEqual([...batchDurationBuckets], [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200]);
    const d = describeMetrics(createMetrics('master').registry).find((x) => x.name === 'gsyncd_batch_duration_seconds');
    assert.deepEqual(d?.buckets, [...batchDurationBuckets]);
  });

  it('refuses label values that are not a session name or a brick index', () => {
    const m = createMetrics('master');
    assert.throws(() => m.initSession('/bricks/b0', '0'), TypeError);
    assert.throws(() => m.initSession('Gv0', '0'), TypeError);
    assert.throws(() => m.initSession('gv0', 'srv1:/b0'), TypeError);
    assert.throws(() => createMetrics('slave', { slaveRoot: '/' }).initSession('ssh://h:/data'), TypeError);
  });
});

describe('pre-initialisation (§3.5)', () => {
  it('master: every known combination at 0, StateSets on the start state, no lag or synced_up_to', async () => {
    const m = createMetrics('master');
    m.initSession('gv0', '0');
    const s = await samples(m.registry);
    const S = { session: 'gv0' };
    assert.equal(find(s, 'gsyncd_batches_total', S).length, 3);
    assert.equal(find(s, 'gsyncd_operations_total', S).length, 27);
    assert.equal(find(s, 'gsyncd_rsync_runs_total', S).length, 4);
    assert.equal(find(s, 'gsyncd_ssh_connects_total', S).length, 8, 'ok, refused, timeout, auth_failed, host_key_rejected, slave_command_failed, version_mismatch, error');
    assert.equal(find(s, 'gsyncd_skipped_files_total', S).length, 5);
    assert.equal(find(s, 'gsyncd_safety_halted', S).length, 5);
    assert.equal(find(s, 'gsyncd_pending_operations', S).length, 3);
    assert.equal(find(s, 'gsyncd_batch_duration_seconds_count', S).length, 5);
    assert.equal(find(s, 'gsyncd_batch_duration_seconds_bucket', { ...S, phase: 'data' }).length, 14);
    assert.ok(gsyncd(s).filter((x) => x.name !== 'gsyncd_build_info').every((x) => x.value === 0 || x.name.endsWith('_state')));
    assert.deepEqual(find(s, 'gsyncd_worker_state').filter((x) => x.value === 1).map((x) => x.labels.state), ['initializing']);
    assert.equal(find(s, 'gsyncd_worker_state').length, 6);
    assert.deepEqual(find(s, 'gsyncd_crawl_state').filter((x) => x.value === 1).map((x) => x.labels.state), ['initial']);
    for (const absent of ['gsyncd_synced_up_to_timestamp_seconds', 'gsyncd_sync_lag_seconds', 'gsyncd_checkpoint_completed', 'gsyncd_checkpoint_completion_timestamp_seconds', 'gsyncd_master_mount_up']) {
      assert.equal(find(s, absent).length, 0, absent);
    }
    assert.deepEqual(find(s, 'gsyncd_checkpoint_timestamp_seconds', S).map((x) => x.value), [0]);
  });

  it('is idempotent: a second worker of the session does not reset session series', async () => {
    const m = createMetrics('master');
    m.initSession('gv0', '0');
    m.slaveConnected.set({ session: 'gv0' }, 1);
    m.batches.inc({ session: 'gv0', result: 'success' }, 4);
    m.initSession('gv0', '1');
    m.initSession('gv0', '0');
    const s = await samples(m.registry);
    assert.equal(find(s, 'gsyncd_slave_connected', { session: 'gv0' })[0]?.value, 1);
    assert.equal(find(s, 'gsyncd_batches_total', { session: 'gv0', result: 'success' })[0]?.value, 4);
    assert.equal(find(s, 'gsyncd_worker_state', { brick: '1' }).length, 6);
  });

  it('slave: per-session series at 0 and refusals before the handshake', async () => {
    const m = createMetrics('slave', { slaveRoot: '/' });
    m.initSession('gv0');
    const s = await samples(m.registry);
    assert.equal(find(s, 'gsyncd_slave_refusals_total', { session: 'unknown' }).length, 7);
    assert.equal(find(s, 'gsyncd_slave_refusals_total', { session: 'gv0' }).length, 7);
    assert.equal(find(s, 'gsyncd_slave_entry_ops_total', { session: 'gv0' }).length, 8 * 3);
    assert.equal(find(s, 'gsyncd_slave_rsync_receives_total', { session: 'gv0' }).length, 4);
    assert.deepEqual(find(s, 'gsyncd_slave_session_connected').map((x) => x.value), [0]);
    assert.deepEqual(find(s, 'gsyncd_slave_sshd_up').map((x) => x.value), [0]);
  });
});

describe('scrape-time values', () => {
  it('lag = max(0, now − synced_up_to) at scrape time, removed with synced_up_to', async () => {
    let now = 1_000_000;
    const m = createMetrics('master', { now: () => now });
    m.initSession('gv0', '0');
    m.setSyncedUpTo('gv0', '0', 990_000);
    let s = await samples(m.registry);
    assert.equal(find(s, 'gsyncd_sync_lag_seconds')[0]?.value, 10);
    assert.equal(find(s, 'gsyncd_synced_up_to_timestamp_seconds')[0]?.value, 990);
    now += 5000;
    s = await samples(m.registry);
    assert.equal(find(s, 'gsyncd_sync_lag_seconds')[0]?.value, 15, 'no timer: the next scrape sees the new now');
    now = 900_000; // clock stepped back: never negative
    s = await samples(m.registry);
    assert.equal(find(s, 'gsyncd_sync_lag_seconds')[0]?.value, 0);
    m.setSyncedUpTo('gv0', '0', undefined);
    s = await samples(m.registry);
    assert.equal(find(s, 'gsyncd_sync_lag_seconds').length, 0);
    assert.equal(find(s, 'gsyncd_synced_up_to_timestamp_seconds').length, 0);
  });

  it('samples never carry timestamps', async () => {
    const m = createMetrics('master', { now: () => 5000 });
    m.initSession('gv0', '0');
    m.setSyncedUpTo('gv0', '0', 1000);
    for (const line of (await m.registry.metrics()).split('\n')) if (line && !line.startsWith('#')) assert.equal(line.split(' ').length, 2, line);
  });

  it('a failing collect() never fails the scrape; it warns', async () => {
    const warnings: object[] = [];
    const m = createMetrics('master', { now: () => { throw new Error('clock broke'); }, log: { warn: (o) => warnings.push(o) } });
    m.initSession('gv0', '0');
    m.setSyncedUpTo('gv0', '0', 1000);
    const s = await samples(m.registry);
    assert.ok(find(s, 'gsyncd_batches_total').length > 0);
    assert.equal(warnings.length, 1);
  });

  it('slave root: writable and free bytes from the file system; a missing root is not writable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-metrics-'));
    try {
      let s = await samples(createMetrics('slave', { slaveRoot: dir }).registry);
      assert.equal(find(s, 'gsyncd_slave_root_writable')[0]?.value, 1);
      assert.ok((find(s, 'gsyncd_slave_root_free_bytes')[0]?.value ?? 0) > 0);
      const warnings: object[] = [];
      s = await samples(createMetrics('slave', { slaveRoot: path.join(dir, 'gone'), log: { warn: (o) => warnings.push(o) } }).registry);
      assert.equal(find(s, 'gsyncd_slave_root_writable')[0]?.value, 0);
      assert.equal(warnings.length, 1, 'statfs failed: warned, scrape still answered');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('series budget (§3.2)', () => {
  it('a 24-brick session stays within 2000 series, default metrics excluded', async () => {
    let now = 10_000_000;
    const m = createMetrics('master', { now: () => now });
    const session = 'gv0_backup1_gv0b';
    for (let b = 0; b < 24; b++) {
      const hooks = attachMasterMetrics(m, { session, brick: String(b), masterKind: 'gluster', masterVolume: 'gv0', slaveKind: 'gluster', slaveHost: 'backup1', slaveVolume: 'gv0b', brickHost: `srv${b}`, slaveNode: 'backup1', now: () => now });
      hooks.onState({
        version: 1, session, master: 'gluster://localhost:gv0', slave: 'ssh://backup1::gv0b', workerState: 'active', crawlState: 'xtime', pid: 1, updatedAt: '',
        initialSyncCompleted: true, syncedUpTo: now - 1000, restarts: 0, checkpoint: { target: now - 5000, completedAt: now - 100 },
      });
      hooks.setPending({ entry: 1, data: 2, meta: 3, bytes: 4 });
      hooks.setMountUp(true);
      hooks.onVerify(0);
    }
    now += 1000;
    const series = gsyncd(await samples(m.registry));
    assert.ok(series.length <= 2000, `${series.length} series`);
    assert.equal(find(series, 'gsyncd_sync_lag_seconds').length, 24);
  });
});
