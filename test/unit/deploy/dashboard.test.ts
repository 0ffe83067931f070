// deploy/grafana/gsyncd-overview.json (OBSERVABILITY.md §8): model settings, variables, and every
// panel query: parses (promtool check rules on the queries as recording rules, variables
// substituted) and names only metrics the project exports (docs/metrics.md).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { documentedMetrics, metricNames, promtool, read, run, yamlDocs, at } from './helpers.js';

interface Target { expr?: string; refId?: string; datasource?: { uid?: string } }
interface Panel { type: string; title: string; targets?: Target[]; panels?: Panel[]; collapsed?: boolean }
interface Variable { name: string; type: string; query?: unknown; multi?: boolean; includeAll?: boolean; allValue?: string }

const dashboard = JSON.parse(read('deploy', 'grafana', 'gsyncd-overview.json')) as {
  uid: string; title: string; editable: boolean; schemaVersion: number; refresh: string; time: { from: string; to: string };
  panels: Panel[]; templating: { list: Variable[] };
};

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}
const queries = allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '', ds: t.datasource?.uid })));

/** The query as Prometheus would get it, with Grafana's variables replaced. */
function substitute(expr: string): string {
  return expr.replace(/\$__rate_interval|\$\{__rate_interval\}/g, '5m').replace(/\$\{?(namespace|session|brick)\}?/g, '.+');
}

describe('deploy/grafana/gsyncd-overview.json', () => {
  it('is a classic dashboard model with the stable uid, 6 h range, 30 s refresh, pinned schemaVersion', () => {
    assert.equal(dashboard.uid, 'gsyncd-overview');
    assert.equal(dashboard.editable, true);
    assert.equal(dashboard.refresh, '30s');
    assert.deepEqual(dashboard.time, { from: 'now-6h', to: 'now' });
    // schemaVersion of the Grafana the compose `monitoring` profile runs (11.2 writes 39)
    const compose = yamlDocs(at('compose.yaml'), '1.2')[0] as { services: Record<string, { image?: string }> };
    assert.match(compose.services['grafana']?.image ?? '', /grafana:11\.2\./);
    assert.equal(dashboard.schemaVersion, 39);
  });

  it('has the datasource, namespace, session and brick variables (multi, All = .+)', () => {
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    assert.equal(vars.get('datasource')?.type, 'datasource');
    const q = (n: string) => JSON.stringify(vars.get(n)?.query);
    assert.match(q('namespace'), /label_values\(gsyncd_build_info, namespace\)/);
    assert.match(q('session'), /label_values\(gsyncd_session_info\{namespace=~\\"\$namespace\\"\}, session\)/);
    assert.match(q('brick'), /label_values\(gsyncd_worker_info\{namespace=~\\"\$namespace\\",session=~\\"\$session\\"\}, brick\)/);
    for (const n of ['namespace', 'session', 'brick']) {
      const v = vars.get(n)!;
      assert.ok(v.multi && v.includeAll && v.allValue === '.+', `${n}: multi, includeAll, allValue .+`);
    }
  });

  it('covers lag, synced-up-to, pending, throughput, worker states and errors', () => {
    const text = queries.map((q) => q.expr).join('\n');
    for (const m of ['gsyncd_sync_lag_seconds', 'gsyncd_synced_up_to_timestamp_seconds', 'gsyncd_pending_operations', 'gsyncd_pending_bytes',
      'gsyncd_transferred_bytes_total', 'gsyncd_synced_file_bytes_total', 'gsyncd_operations_total', 'gsyncd_worker_state',
      'gsyncd_rsync_runs_total', 'gsyncd_ssh_connects_total', 'gsyncd_batches_total', 'gsyncd_skipped_files_total',
      'gsyncd_safety_halted', 'gsyncd_slave_connected', 'gsyncd_batch_duration_seconds_bucket', 'gsyncd_slave_root_free_bytes']) {
      assert.ok(text.includes(m), `no panel queries ${m}`);
    }
    for (const q of queries) assert.equal(q.ds, '${datasource}', `${q.panel}: datasource must be the variable`);
  });

  it('names only metrics the project exports (docs/metrics.md)', () => {
    const known = documentedMetrics();
    assert.ok(known.has('gsyncd_sync_lag_seconds') && known.has('process_resident_memory_bytes'), 'docs/metrics.md not parsed');
    for (const q of queries) {
      const names = metricNames(q.expr);
      assert.ok(names.length > 0, `${q.panel}: no metric in ${q.expr}`);
      for (const n of names) assert.ok(known.has(n), `${q.panel}: ${n} is not in docs/metrics.md`);
    }
  });

  it('uses $__rate_interval for every rate()', () => {
    for (const q of queries) {
      for (const m of q.expr.matchAll(/\brate\([^[]*\[([^\]]+)\]/g)) assert.equal(m[1], '$__rate_interval', `${q.panel}: ${q.expr}`);
    }
  });

  it('has queries that parse (promtool check rules on them as recording rules)', (t) => {
    const tool = promtool();
    if (tool === null) {
      t.skip('promtool not found (Debian package `prometheus`, or set PROMTOOL)');
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-dashboard-'));
    try {
      const file = path.join(dir, 'dashboard-queries.yaml');
      const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: substitute(q.expr) }));
      fs.writeFileSync(file, YAML.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = run(tool, ['check', 'rules', file]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
