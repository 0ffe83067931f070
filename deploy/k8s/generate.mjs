#!/usr/bin/env node
// Generates the Kubernetes wrappers of the monitoring files, so there is one source for each:
//   deploy/prometheus/gsyncd-rules.yaml    -> deploy/k8s/monitoring/prometheusrule.yaml
//   deploy/grafana/gsyncd-overview.json    -> deploy/k8s/monitoring/grafana-dashboard.yaml
// node deploy/k8s/generate.mjs           write them
// node deploy/k8s/generate.mjs --check   exit 1 if they are stale (test/unit/deploy runs this)
// Needs the `yaml` package (a dev dependency).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const deploy = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const header = (source) =>
  `# GENERATED from ${source} by deploy/k8s/generate.mjs; do not edit (run: node deploy/k8s/generate.mjs)\n`;

export function renderPrometheusRule() {
  const rules = YAML.parse(fs.readFileSync(path.join(deploy, 'prometheus/gsyncd-rules.yaml'), 'utf8'));
  const doc = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'gsyncd', labels: { release: 'kube-prometheus-stack' } },
    spec: { groups: rules.groups },
  };
  return header('deploy/prometheus/gsyncd-rules.yaml') + YAML.stringify(doc, { lineWidth: 0 });
}

export function renderDashboardConfigMap() {
  const json = fs.readFileSync(path.join(deploy, 'grafana/gsyncd-overview.json'), 'utf8');
  JSON.parse(json);
  const doc = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'gsyncd-grafana-dashboard', labels: { grafana_dashboard: '1' }, annotations: { grafana_folder: 'gsyncd' } },
    data: { 'gsyncd-overview.json': json },
  };
  return header('deploy/grafana/gsyncd-overview.json') + YAML.stringify(doc, { lineWidth: 0 });
}

export const outputs = {
  'k8s/monitoring/prometheusrule.yaml': renderPrometheusRule,
  'k8s/monitoring/grafana-dashboard.yaml': renderDashboardConfigMap,
};

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [rel, render] of Object.entries(outputs)) {
    const file = path.join(deploy, rel);
    const want = render();
    const have = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (have === want) continue;
    if (check) {
      process.stderr.write(`deploy/${rel} is stale: run node deploy/k8s/generate.mjs\n`);
      stale++;
    } else {
      fs.writeFileSync(file, want);
      process.stderr.write(`wrote deploy/${rel}\n`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
