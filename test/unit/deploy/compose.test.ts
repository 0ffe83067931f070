// compose.yaml, the Dockerfiles and the settings they pass to gsyncd (static checks; the real
// run is test/e2e/compose.test.ts): OBSERVABILITY.md §7, and every GSYNCD_* variable or config
// key they set is a tunable this gsyncd accepts (a not-yet-effective one would be refused at
// start-up with exit 78).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findTunable } from '../../../src/options/tunables.js';
import { at, read, yamlDocs } from './helpers.js';

interface Service {
  build?: { context: string; dockerfile?: string }; image?: string; command?: string[]; entrypoint?: string[];
  healthcheck?: { test: string[]; start_period?: string }; depends_on?: Record<string, { condition: string }>;
  devices?: string[]; cap_add?: string[]; security_opt?: string[]; ports?: string[]; volumes?: string[];
  environment?: Record<string, string>; env_file?: string; profiles?: string[]; stop_grace_period?: string; hostname?: string;
}
const compose = yamlDocs(at('compose.yaml'), '1.2')[0] as { services: Record<string, Service>; volumes: Record<string, unknown> };
const svc = (name: string): Service => {
  const s = compose.services[name];
  assert.ok(s, `compose.yaml has no service ${name}`);
  return s;
};

function envFile(rel: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of read(rel).split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

function assertEffectiveTunable(name: string, where: string): void {
  const spec = findTunable(name);
  assert.ok(spec, `${where}: ${name} is not a gsyncd tunable`);
  assert.ok(spec.effective, `${where}: ${name} is not effective in this gsyncd (it would be refused at start-up)`);
}

describe('compose.yaml', () => {
  it('has the demo server, keygen, slave and master, healthy before their dependants start', () => {
    assert.equal(svc('gluster').hostname, 'gluster');
    assert.deepEqual(svc('gluster').cap_add, ['SYS_ADMIN']);
    assert.equal(svc('slave').depends_on?.['keygen']?.condition, 'service_completed_successfully');
    assert.equal(svc('master').depends_on?.['slave']?.condition, 'service_healthy');
    assert.equal(svc('master').depends_on?.['gluster']?.condition, 'service_healthy');
    for (const s of ['gluster', 'slave', 'master']) assert.ok(svc(s).healthcheck?.test.length, `${s}: healthcheck`);
    assert.match(svc('master').healthcheck!.test.join(' '), /127\.0\.0\.1:9754\/healthz/);
    assert.match(svc('slave').healthcheck!.test.join(' '), /127\.0\.0\.1:9754\/healthz/);
  });

  it('gives the master FUSE (device, SYS_ADMIN, no AppArmor veto) and publishes metrics on loopback', () => {
    const m = svc('master');
    assert.deepEqual(m.devices, ['/dev/fuse']);
    assert.deepEqual(m.cap_add, ['SYS_ADMIN']);
    assert.deepEqual(m.security_opt, ['apparmor:unconfined']);
    assert.match(m.ports?.[0] ?? '', /^127\.0\.0\.1:\$\{GSYNCD_MASTER_METRICS_PORT:-9754\}:9754$/);
    assert.match(svc('slave').ports?.[0] ?? '', /^127\.0\.0\.1:\$\{GSYNCD_SLAVE_METRICS_PORT:-9755\}:9754$/);
    for (const s of ['slave', 'master']) assert.equal(svc(s).stop_grace_period, '40s');
  });

  it('keeps keys out of the images: keygen writes them into two volumes, each side mounts its own read-only', () => {
    assert.deepEqual(svc('keygen').volumes, ['ssh-master:/keys/master', 'ssh-slave:/keys/slave']);
    assert.ok(svc('master').volumes?.includes('ssh-master:/etc/gsyncd/ssh:ro'));
    assert.ok(svc('slave').volumes?.includes('ssh-slave:/etc/gsyncd/ssh:ro'));
    assert.ok(!svc('slave').volumes?.some((v) => v.startsWith('ssh-master')), 'the slave must not see the master key');
    assert.ok(!svc('master').volumes?.some((v) => v.startsWith('ssh-slave')), 'the master must not see the slave host key');
  });

  it('points the master at the demo volume and the slave service through one env file', () => {
    assert.equal(svc('master').env_file, 'deploy/compose/gsyncd.env');
    const env = envFile('deploy/compose/gsyncd.env');
    assert.equal(env.get('MASTER_URL'), 'gluster://gluster:demo');
    assert.equal(env.get('SLAVE_URL'), 'ssh://gsyncd@slave:/data');
    for (const [k] of env) if (k.startsWith('GSYNCD_')) assertEffectiveTunable(k.slice(7).toLowerCase().replace(/_/g, '-'), 'deploy/compose/gsyncd.env');
    for (const k of Object.keys(svc('master').environment ?? {})) {
      if (k.startsWith('GSYNCD_')) assertEffectiveTunable(k.slice(7).toLowerCase().replace(/_/g, '-'), 'compose.yaml master environment');
    }
  });

  it('has Prometheus and Grafana in the monitoring (alias observability) profile, with rules and dashboard', () => {
    for (const s of ['prometheus', 'grafana']) assert.deepEqual(svc(s).profiles, ['monitoring', 'observability']);
    assert.ok(svc('prometheus').volumes?.includes('./deploy/prometheus:/etc/prometheus/rules:ro'));
    assert.ok(svc('grafana').volumes?.includes('./deploy/grafana:/var/lib/grafana/dashboards/gsyncd:ro'));
    const prom = yamlDocs(at('deploy', 'compose', 'prometheus', 'prometheus.yml'), '1.2')[0] as { rule_files: string[]; scrape_configs: { static_configs: { labels: Record<string, string> }[] }[] };
    assert.deepEqual(prom.rule_files, ['/etc/prometheus/rules/gsyncd-rules.yaml']);
    for (const sc of prom.scrape_configs[0]!.static_configs) assert.equal(sc.labels['namespace'], 'compose');
  });
});

describe('Dockerfile.master and Dockerfile.slave', () => {
  for (const [file, role] of [['Dockerfile.master', 'master'], ['Dockerfile.slave', 'slave']] as const) {
    const text = read(file);
    it(`${file}: multi-stage from a Node LTS base given as a build arg, tini as PID 1, health check, metrics on 0.0.0.0:9754`, () => {
      assert.match(text, /^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
      assert.match(text, /^FROM \$\{BUILD_IMAGE\} AS build$/m);
      assert.match(text, /^FROM \$\{NODE_IMAGE\} AS run$/m);
      assert.match(text, /npm ci /);
      assert.match(text, /npm prune --omit=dev/);
      assert.match(text, /^COPY --from=build \/src\/dist \.\/dist$/m);
      assert.match(text, /^ENTRYPOINT \["tini", "--", "gsyncd(-slave-entrypoint)?"\]$/m);
      assert.match(text, /^HEALTHCHECK .*CMD \["gsyncd-healthcheck", "http:\/\/127\.0\.0\.1:9754\/healthz"\]$/m);
      assert.match(text, /^EXPOSE .*9754/m);
      for (const m of text.matchAll(/^ENV (.*)$/gm)) {
        for (const kv of m[1]!.split(/\s+/)) {
          const k = kv.split('=')[0]!;
          if (k.startsWith('GSYNCD_')) assertEffectiveTunable(k.slice(7).toLowerCase().replace(/_/g, '-'), file);
        }
      }
      assert.match(text, /GSYNCD_HTTP_BIND=0\.0\.0\.0:9754/);
      for (const m of text.matchAll(/^(?:COPY|ADD) .*$/gm)) assert.doesNotMatch(m[0], /_key\b|known_hosts|authorized_keys|id_(rsa|ed25519|ecdsa)/, `${file}: no keys in images`);
      assert.match(text, role === 'slave' ? /rm -rf [^\n]*\/etc\/ssh\/ssh_host_\*_key / : /./, 'the slave image drops the host keys Debian made');
      const pkgs = role === 'master' ? ['tini', 'rsync', 'glusterfs-client', 'glusterfs-cli'] : ['tini', 'rsync', 'openssh-server'];
      for (const p of pkgs) assert.match(text, new RegExp(`\\b${p}\\b`), `${file}: package ${p}`);
    });
  }

  it('the k8s gsyncd.conf sets only effective tunables', () => {
    const cm = yamlDocs(at('deploy', 'k8s', 'configmap.yaml'))[0] as { data: Record<string, string> };
    for (const line of cm.data['gsyncd.conf']!.split('\n')) {
      const m = /^\s*([a-z][a-z0-9_-]*)\s*:/.exec(line);
      if (m) assertEffectiveTunable(m[1]!, 'deploy/k8s/configmap.yaml gsyncd.conf');
    }
  });
});
