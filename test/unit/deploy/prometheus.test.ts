// deploy/prometheus: rule syntax and behaviour (promtool), the alert set of OBSERVABILITY.md §8,
// annotations, and the generated PrometheusRule being up to date.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { at, documentedMetrics, metricNames, promtool, run, yamlDocs } from './helpers.js';

interface Rule { record?: string; alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RuleFile { groups: { name: string; rules: Rule[] }[] }

const rulesFile = at('deploy', 'prometheus', 'gsyncd-rules.yaml');
const rules = (yamlDocs(rulesFile, '1.2')[0] as RuleFile).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert !== undefined);
const records = rules.filter((r) => r.record !== undefined);

describe('deploy/prometheus/gsyncd-rules.yaml', () => {
  it('passes promtool check rules and the rule unit tests (promtool test rules)', (t) => {
    const tool = promtool();
    if (tool === null) {
      t.skip('promtool not found (Debian package `prometheus`, or set PROMTOOL)');
      return;
    }
    const check = run(tool, ['check', 'rules', rulesFile]);
    assert.equal(check.code, 0, check.out);
    const test = run(tool, ['test', 'rules', at('deploy', 'prometheus', 'gsyncd-rules.test.yaml')]);
    assert.equal(test.code, 0, test.out);
  });

  it('has the recording rules and alerts of OBSERVABILITY.md §8', () => {
    assert.deepEqual(records.map((r) => r.record), [
      'session:gsyncd_sync_lag_seconds:max', 'session:gsyncd_pending_operations:sum', 'session:gsyncd_batches:increase30m',
    ]);
    assert.deepEqual(alerts.map((r) => r.alert).sort(), [
      'GsyncdInitialSyncStalled', 'GsyncdNoProgress', 'GsyncdSafetyHalt', 'GsyncdSkippedFiles', 'GsyncdSlaveDiskFilling',
      'GsyncdSlaveRefusals', 'GsyncdSlaveRootNotWritable', 'GsyncdSlaveUnreachable', 'GsyncdSyncLagCritical', 'GsyncdSyncLagHigh',
      'GsyncdTargetDown', 'GsyncdWorkerFaulty', 'GsyncdWorkerFlapping',
    ]);
  });

  it('gives every alert a severity, summary, description and runbook_url', () => {
    for (const a of alerts) {
      assert.ok(['critical', 'warning'].includes(a.labels?.['severity'] ?? ''), `${a.alert}: severity`);
      assert.ok(a.for, `${a.alert}: for`);
      for (const k of ['summary', 'description']) assert.ok((a.annotations?.[k] ?? '').length > 10, `${a.alert}: ${k}`);
      assert.equal(a.annotations?.['runbook_url'], `docs/runbooks.md#${a.alert!.toLowerCase()}`);
    }
  });

  it('names only metrics the project exports (docs/metrics.md), its own recording rules and up', () => {
    const known = documentedMetrics();
    for (const r of records) known.add(r.record!);
    known.add('up');
    for (const r of rules) for (const name of metricNames(r.expr)) assert.ok(known.has(name), `${r.alert ?? r.record}: unknown metric ${name}`);
  });

  it('is what deploy/k8s/monitoring/prometheusrule.yaml wraps (node deploy/k8s/generate.mjs --check)', () => {
    const r = run(process.execPath, [at('deploy', 'k8s', 'generate.mjs'), '--check']);
    assert.equal(r.code, 0, r.out);
  });

  it('extracts metric names from PromQL as intended (self-test of the helper)', () => {
    assert.deepEqual(metricNames('histogram_quantile(0.95, sum by (le, phase) (rate(x_bucket{a=~"$b",c!="d"}[$__rate_interval])))'), ['x_bucket']);
    assert.deepEqual(metricNames('time() - max by (session) (a_ts{s=~"$s"}) and on (namespace) b > 1e12'), ['a_ts', 'b']);
    assert.deepEqual(metricNames('session:x:max > 900 and predict_linear(session:x:max[15m], 1800) > 900'), ['session:x:max']);
  });
});
