import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { metricsDocPath, renderMetricsDoc } from '../../../scripts/gen-metrics-doc.js';
import { createMetrics, describeMetrics } from '../../../src/observe/metrics.js';

describe('docs/metrics.md', () => {
  it('is current (regenerate: node --import tsx scripts/gen-metrics-doc.ts)', () => {
    assert.equal(fs.readFileSync(metricsDocPath, 'utf8'), renderMetricsDoc());
  });

  it('names every gsyncd metric of both roles with its labels', () => {
    const doc = fs.readFileSync(metricsDocPath, 'utf8');
    const all = [...describeMetrics(createMetrics('master').registry), ...describeMetrics(createMetrics('slave', { slaveRoot: '/' }).registry)];
    for (const d of all) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${d.name}\` |`));
      assert.ok(row, d.name);
      for (const label of d.labels) assert.ok(row.includes(`\`${label}\``), `${d.name} label ${label}`);
    }
  });
});
