// deploy/k8s: every manifest validates against the Kubernetes schema (kubernetes-models: types,
// required fields, enums, formats; @kubernetes-models/prometheus-operator for PodMonitor and
// PrometheusRule), has no unknown fields (the manifests type-checked as object literals against
// the same models' TypeScript interfaces: excess-property checks), and follows OBSERVABILITY.md §7.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { at, repo, run, yamlDocs } from './helpers.js';

interface Meta { name?: string; labels?: Record<string, string> }
interface K8s { apiVersion: string; kind: string; metadata?: Meta; spec?: any; data?: Record<string, string> }
interface Kustomization { resources?: string[]; secretGenerator?: { name: string; files?: string[] }[]; images?: { name: string }[] }

const k8sDir = at('deploy', 'k8s');

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'keys' ? [] : yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}
const files = yamlFiles(k8sDir);
const kustomizations = files.filter((f) => path.basename(f) === 'kustomization.yaml');
const manifests = files.filter((f) => !kustomizations.includes(f))
  .flatMap((f) => yamlDocs(f).map((doc, i) => ({ file: path.relative(repo, f), index: i, doc: doc as K8s })));

/** Module (and interface) of the kubernetes-models class for an apiVersion/kind. */
function modelOf(apiVersion: string, kind: string): { module: string; iface: string } {
  if (apiVersion.startsWith('monitoring.coreos.com/')) {
    return { module: `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`, iface: `I${kind}` };
  }
  return { module: `kubernetes-models/${apiVersion}/${kind}`, iface: `I${kind}` };
}

function find(kind: string, name: string): K8s {
  const m = manifests.find((x) => x.doc.kind === kind && x.doc.metadata?.name === name);
  assert.ok(m, `no ${kind} ${name} in deploy/k8s`);
  return m.doc;
}

describe('deploy/k8s manifests', () => {
  it('are all known kinds and validate against the Kubernetes schema', async () => {
    assert.ok(manifests.length >= 10, `only ${manifests.length} manifests found`);
    for (const { file, index, doc } of manifests) {
      const where = `${file}#${index} ${doc.kind}/${doc.metadata?.name}`;
      const { module } = modelOf(doc.apiVersion, doc.kind);
      const mod = (await import(module)) as Record<string, new (d: unknown) => { validate(): void }>;
      const Model = mod[doc.kind];
      assert.ok(Model, `${where}: no model for ${doc.apiVersion} ${doc.kind}`);
      try {
        new Model(doc).validate();
      } catch (err) {
        assert.fail(`${where}: ${(err as Error).message}`);
      }
    }
  });

  it('have no unknown fields (excess-property check against the models\' TypeScript types)', { timeout: 120_000 }, () => {
    // Written under node_modules/.cache so that the package imports resolve from the repository.
    const dir = at('node_modules', '.cache', 'gsyncd-k8s-typecheck');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    try {
      const lines: string[] = [];
      manifests.forEach(({ file, index, doc }, i) => {
        const { module, iface } = modelOf(doc.apiVersion, doc.kind);
        lines.push(`import type { ${iface} as T${i} } from '${module}';`);
        lines.push(`// ${file}#${index}`, `export const m${i}: T${i} = ${JSON.stringify(doc, null, 2)};`);
      });
      fs.writeFileSync(path.join(dir, 'manifests.ts'), lines.join('\n') + '\n');
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', skipLibCheck: true, types: [] },
        files: ['manifests.ts'],
      }));
      const r = run(process.execPath, [at('node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(dir, 'tsconfig.json')]);
      assert.equal(r.code, 0, `type errors in the manifests (see ${dir}/manifests.ts):\n${r.out.slice(0, 4000)}`);
    } finally {
      if (!process.exitCode) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('list every file in their kustomizations, and every generated Secret and image is used', () => {
    for (const k of kustomizations) {
      const kz = yamlDocs(k)[0] as Kustomization;
      for (const r of kz.resources ?? []) assert.ok(fs.existsSync(path.join(path.dirname(k), r)), `${k}: missing resource ${r}`);
      const listed = new Set((kz.resources ?? []).map((r) => path.resolve(path.dirname(k), r)));
      for (const f of files.filter((f) => path.dirname(f) === path.dirname(k) && f !== k)) {
        assert.ok(listed.has(f), `${path.relative(repo, f)} is not listed in ${path.relative(repo, k)}`);
      }
    }
    const text = manifests.map((m) => JSON.stringify(m.doc)).join('\n');
    const main = yamlDocs(path.join(k8sDir, 'kustomization.yaml'))[0] as Kustomization;
    for (const s of main.secretGenerator ?? []) assert.ok(text.includes(`"secretName":"${s.name}"`), `Secret ${s.name} is not mounted anywhere`);
    for (const i of main.images ?? []) assert.ok(text.includes(`"image":"${i.name}"`), `image ${i.name} is not used`);
    assert.ok(text.includes('"name":"gsyncd-config"'), 'ConfigMap gsyncd-config is not mounted');
  });

  it('run the master as a native sidecar probed on /livez only, with the SSH Secret and state', () => {
    const app = find('Deployment', 'example-app');
    const pod = app.spec.template.spec;
    const sidecar = pod.initContainers.find((c: any) => c.name === 'gsyncd-master');
    assert.equal(sidecar.restartPolicy, 'Always');
    assert.equal(sidecar.startupProbe.httpGet.path, '/livez');
    assert.equal(sidecar.livenessProbe.httpGet.path, '/livez');
    assert.equal(sidecar.readinessProbe, undefined, 'no readinessProbe on the app-pod sidecar');
    assert.ok(sidecar.ports.some((p: any) => p.name === 'gsyncd-metrics' && p.containerPort === 9754));
    assert.ok(sidecar.securityContext.privileged || sidecar.securityContext.capabilities?.add?.includes('SYS_ADMIN'));
    assert.ok(pod.terminationGracePeriodSeconds >= 120);
    assert.deepEqual(sidecar.volumeMounts.map((m: any) => m.mountPath).sort(), ['/etc/gsyncd/gsyncd.conf', '/etc/gsyncd/ssh', '/var/lib/gsyncd']);
    const ssh = pod.volumes.find((v: any) => v.secret?.secretName === 'gsyncd-ssh');
    assert.equal(ssh.secret.defaultMode, 0o400, 'Secret mode 0400 (YAML 1.1 octal)');
    assert.equal(app.spec.template.metadata.labels['gsyncd/scrape'], 'true');
  });

  it('run one slave (Recreate) with readiness on /readyz, liveness on /livez, and a Service for sshd', () => {
    const slave = find('Deployment', 'gsyncd-slave');
    assert.equal(slave.spec.replicas, 1);
    assert.equal(slave.spec.strategy.type, 'Recreate');
    const c = slave.spec.template.spec.containers[0];
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/livez');
    assert.deepEqual(c.args, ['slave-agent', '/data']);
    assert.equal(slave.spec.template.metadata.labels['gsyncd/scrape'], 'true');
    const svc = find('Service', 'gsyncd-slave');
    assert.ok(svc.spec.ports.some((p: any) => p.port === 22));
    assert.deepEqual(svc.spec.selector, slave.spec.selector.matchLabels);
    const sidecarArgs: string[] = find('Deployment', 'example-app').spec.template.spec.initContainers[0].args;
    assert.ok(sidecarArgs.includes('ssh://gsyncd@gsyncd-slave:/data'), 'the master targets the slave Service');
  });

  it('scrape both pods through a PodMonitor on the gsyncd-metrics port', () => {
    const pm = find('PodMonitor', 'gsyncd');
    assert.deepEqual(pm.spec.selector.matchLabels, { 'gsyncd/scrape': 'true' });
    assert.equal(pm.spec.namespaceSelector.any, true);
    assert.equal(pm.spec.podMetricsEndpoints[0].port, 'gsyncd-metrics');
    assert.ok(pm.metadata?.labels?.['release'], 'release label for kube-prometheus-stack');
    const dash = find('ConfigMap', 'gsyncd-grafana-dashboard');
    assert.equal(dash.metadata?.labels?.['grafana_dashboard'], '1');
    assert.equal(JSON.parse(dash.data!['gsyncd-overview.json']!).uid, 'gsyncd-overview');
  });
});
