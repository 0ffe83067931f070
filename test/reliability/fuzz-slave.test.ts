// Reliability 5 - bad input, end to end: the real `gsyncd --slave DIR` process (the built
// bin/gsyncd.js) is fed random byte streams on stdin - well-formed requests for every method
// with hostile parameters (escaping paths, bad mark keys, odd types), then malformed frames
// (oversized length prefixes, truncated frames, non-UTF-8, non-JSON, non-objects, requests
// without id or method, deep nesting) - cut into random chunks. For every case:
//   - the process exits by itself once its input ends or turns bad, within seconds, with status
//     0 (clean end) or 1 (protocol violation), never by a signal or another status;
//   - its stderr is only JSON log lines, the last saying why the session ended - no stack
//     trace, no uncaught exception, no raw text;
//   - its stdout is only well-formed reply frames (id, ok, result | error{code, message});
//   - nothing outside DIR changes: a victim tree next to DIR, reachable through symlinks
//     planted inside DIR, keeps every name, byte, mode, owner, time and xattr, and nothing is
//     created next to DIR.
// DIR is reset before each case. GSYNCD_FUZZ_SLAVE_CASES (default 300) sets the count,
// GSYNCD_TEST_SEED the seed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';
import fc from 'fast-check';
import { slaveMarkKey } from '../../src/gluster/xattr-names.js';
import { encodeFrame, FrameDecoder, MAX_FRAME } from '../../src/protocol/frame.js';
import { GSYNCD_BIN } from '../support/gsyncd.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';
import { seedFromEnv } from './lib.js';

const CASES = Number(process.env['GSYNCD_FUZZ_SLAVE_CASES'] ?? 300);
const LANES = 3;
const VOLUME_ID = '11111111-2222-4333-8444-555555555555';
const MARK = slaveMarkKey(VOLUME_ID);

function fingerprint(root: string): string {
  const out: string[] = [];
  const visit = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    const st = fs.lstatSync(abs, { bigint: true });
    let extra = '';
    if (st.isSymbolicLink()) extra = `-> ${fs.readlinkSync(abs)}`;
    else if (st.isFile()) extra = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    let xattrs = '';
    try { xattrs = listAttributesSync(abs).sort().map((k) => `${k}=${getAttributeSync(abs, k)?.toString('hex')}`).join(','); } catch { xattrs = '?'; }
    out.push(`${rel || '.'} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeNs} ${st.ino} ${extra} [${xattrs}]`);
    if (st.isDirectory()) for (const n of fs.readdirSync(abs).sort()) visit(rel ? `${rel}/${n}` : n);
  };
  visit('');
  return out.join('\n');
}

/** A fresh DIR with bait symlinks, next to an untouched victim tree. */
function resetLane(base: string): { root: string } {
  const root = path.join(base, 'root');
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(path.join(root, 'sub', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(root, 'sub', 'file'), 'inside\n');
  fs.symlinkSync('../victim', path.join(root, 'out'));
  fs.symlinkSync(path.join(base, 'victim'), path.join(root, 'abs-out'));
  fs.symlinkSync('../../victim/secret', path.join(root, 'sub', 'outfile'));
  return { root };
}

function makeVictim(base: string): void {
  const v = path.join(base, 'victim');
  fs.mkdirSync(path.join(v, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(v, 'secret'), 'victim data\n');
  fs.writeFileSync(path.join(v, 'dir', 'nested'), 'nested victim data\n');
  const mark = Buffer.from('0000000100000002', 'hex');
  setAttributeSync(v, MARK, mark);
}

// ─── frames ──────────────────────────────────────────────────────────────────────────────────

const hostilePath = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('', 'sub', 'sub/file', 'sub/deep', 'new', 'sub/new', 'out', 'abs-out', 'sub/outfile', 'out/secret', 'out/dir/nested', 'abs-out/secret',
    'sub/outfile/x', '..', '../victim', '../victim/secret', 'sub/../..', '/', '/etc/passwd', 'a\0b', '.', 'sub/./file', 'sub//file', `${'n'.repeat(256)}`,
    `${'d/'.repeat(2100)}x`, 'é', '\u0100', '\ud800', 'sub\\..\\..', '%2e%2e', '\u2024\u2024') },
  fc.string({ maxLength: 12 }),
  fc.array(fc.constantFrom('..', '.', '', 'sub', 'out', 'x', 'abs-out', 'deep'), { maxLength: 5 }).map((a) => a.join('/')),
);
const markKey = fc.oneof({ weight: 4, arbitrary: fc.constant(MARK) }, fc.constantFrom('security.selinux', 'trusted.glusterfs.volume-id', 'user.gsyncd.x.xtime', 'trusted.gsyncd..xtime', 'trusted.gsyncd.a/b.xtime', ''), fc.string({ maxLength: 10 }), fc.constant(null));
const smallInt = fc.oneof(fc.integer({ min: 0, max: 0o7777 }), fc.constantFrom(-1, 2 ** 32, 2 ** 53, 1.5, Number.MAX_SAFE_INTEGER), fc.constant('7' as unknown as number));
const op = fc.oneof(
  fc.record({ op: fc.constant('mkdir'), path: hostilePath, mode: smallInt, uid: fc.constantFrom(0, 1234, -5), gid: fc.constantFrom(0, 5678) }),
  fc.record({ op: fc.constant('rename'), from: hostilePath, to: hostilePath }),
  fc.record({ op: fc.constant('link'), existing: hostilePath, path: hostilePath }),
  fc.record({ op: fc.constant('delete'), path: hostilePath, type: fc.constantFrom('file', 'dir', 'symlink', 'other', 'bogus') }),
  fc.record({ op: fc.constant('setattr'), path: hostilePath, mode: fc.option(smallInt, { nil: undefined }), uid: fc.option(fc.constantFrom(0, 4321), { nil: undefined }), gid: fc.option(fc.constantFrom(0, 8765), { nil: undefined }), mtime: fc.option(fc.oneof(fc.tuple(fc.integer({ min: -5, max: 2 ** 31 }), fc.integer({ min: -1, max: 1e9 })), fc.constant([1])), { nil: undefined }) }),
  fc.record({ op: fc.constant('mark'), path: hostilePath, xtime: fc.oneof(fc.record({ sec: fc.nat(), usec: fc.integer({ min: 0, max: 1_200_000 }) }), fc.constant(null), fc.constant('x')) }),
  fc.record({ op: fc.constantFrom('chmod', 'exec', '__proto__', 'constructor') as fc.Arbitrary<string>, path: hostilePath }),
  fc.jsonValue({ maxDepth: 2 }),
);
const params = (method: string): fc.Arbitrary<unknown> => {
  switch (method) {
    case 'hello': return fc.oneof({ weight: 4, arbitrary: fc.record({ protocol: fc.constant(1), client: fc.constant('gsyncd'), session: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }), masterVolumeId: fc.option(fc.constant(VOLUME_ID), { nil: undefined }) }) },
      fc.record({ protocol: fc.oneof(fc.constantFrom(0, 2, 1.9, -1, '1', null), fc.double()) }), fc.jsonValue({ maxDepth: 2 }));
    case 'list': case 'readMark': return fc.oneof({ weight: 4, arbitrary: fc.record({ dir: hostilePath, markKey }) }, fc.jsonValue({ maxDepth: 2 }));
    case 'apply': return fc.oneof({ weight: 4, arbitrary: fc.record({ ops: fc.array(op, { maxLength: 8 }), markKey }) }, fc.record({ ops: fc.jsonValue({ maxDepth: 2 }), markKey }), fc.jsonValue({ maxDepth: 2 }));
    default: return fc.jsonValue({ maxDepth: 3 });
  }
};
const request = fc.tuple(
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom('hello', 'identity', 'list', 'readMark', 'apply', 'keepAlive') }, fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'shutdown', 'exec', ''), fc.string({ maxLength: 10 })),
  fc.oneof({ weight: 8, arbitrary: fc.nat() }, fc.constantFrom(-1, 1.5, 2 ** 53, '1', null)),
).chain(([method, id]) => params(method).map((p) => encodeFrame({ id, method, params: p })));
const helloFrame = encodeFrame({ id: 0, method: 'hello', params: { protocol: 1, client: 'gsyncd', session: 'fuzz' } });
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const withLength = (payload: Buffer) => Buffer.concat([u32(payload.length), payload]);
const badFrame = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.constantFrom(MAX_FRAME + 1, 0xffffffff, 2 ** 31).map((n) => Buffer.concat([u32(n), Buffer.from('{"id":1')])),
  fc.tuple(fc.integer({ min: 10, max: 5000 }), fc.uint8Array({ maxLength: 8 })).map(([n, a]) => Buffer.concat([u32(n), Buffer.from(a)])),
  fc.constantFrom('[]', '1', 'null', '"str"', 'true', '{', '{"id":1,"method":"hello"', '{}', '{"id":-1,"method":"x"}', '{"id":1.5,"method":"x"}', '{"id":"1","method":"x"}', '{"method":"hello"}', '{"id":1}', '{"id":1,"method":7}', '{"__proto__":{"id":1}}')
    .map((s) => withLength(Buffer.from(s))),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => withLength(Buffer.from([0xff, 0xfe, ...a]))),
  fc.constant(withLength(Buffer.from('['.repeat(200_000)))),
  fc.constant(withLength(Buffer.from(`{"id":1,"method":"list","params":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`))),
  fc.constant(withLength(Buffer.from('{"id":1,"method":"hello","params":{"protocol":1,"client":"gsyncd"}}\n'))),
);
const caseArb = fc.record({
  hello: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(undefined)),
  // Sessions of requests only (they reach the handlers), mixed ones, and garbage.
  frames: fc.oneof(
    { weight: 3, arbitrary: fc.array(request as fc.Arbitrary<Buffer>, { minLength: 1, maxLength: 10 }) },
    { weight: 2, arbitrary: fc.array(fc.oneof({ weight: 5, arbitrary: request as fc.Arbitrary<Buffer> }, badFrame as fc.Arbitrary<Buffer>), { maxLength: 8 }) },
    { weight: 1, arbitrary: fc.array(badFrame as fc.Arbitrary<Buffer>, { minLength: 1, maxLength: 3 }) },
  ) as fc.Arbitrary<Buffer[]>,
  cuts: fc.array(fc.integer({ min: 1, max: 4096 }), { maxLength: 6 }),
  endInput: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, fc.constant(false)),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

interface Outcome { code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: Buffer; ms: number; timedOut: boolean }

function runCase(root: string, c: Case): Promise<Outcome> {
  const started = Date.now();
  const child = spawn(process.execPath, [GSYNCD_BIN, '--slave', '--timeout', '3', '--log-level', 'debug', root], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  const out: Buffer[] = [];
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stdin.on('error', () => {});
  let timedOut = false;
  // --timeout 3: a session left open without input ends by itself ("connection inactive").
  const killer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, 15_000);
  const bytes = Buffer.concat([...(c.hello ? [helloFrame] : []), ...c.frames]);
  let at = 0;
  for (const cut of c.cuts) {
    if (at >= bytes.length) break;
    child.stdin.write(bytes.subarray(at, at + cut));
    at += cut;
  }
  if (at < bytes.length) child.stdin.write(bytes.subarray(at));
  if (c.endInput) child.stdin.end();
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stderr, stdout: Buffer.concat(out), ms: Date.now() - started, timedOut });
    });
  });
}

test(`gsyncd --slave DIR under random frames: ${CASES} cases through real child processes`, { timeout: 230_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const seed = seedFromEnv();
  const cases = fc.sample(caseArb, { numRuns: CASES, seed });
  const lanes = await Promise.all(Array.from({ length: LANES }, async () => {
    const base = await tmpDir('fuzz-slave', stack);
    makeVictim(base);
    return { base, victim: fingerprint(path.join(base, 'victim')), names: [] as string[] };
  }));
  const stats = { exit0: 0, exit1: 0, replies: 0, inactive: 0, violations: 0, maxMs: 0 };
  const problems: string[] = [];
  let next = 0;
  await Promise.all(lanes.map(async (lane) => {
    for (let i = next++; i < cases.length; i = next++) {
      const c = cases[i]!;
      const { root } = resetLane(lane.base);
      const namesBefore = fs.readdirSync(lane.base).sort().join(',');
      const o = await runCase(root, c);
      stats.maxMs = Math.max(stats.maxMs, o.ms);
      const fail = (why: string) => problems.push(`case ${i} (seed ${seed}): ${why}\n  input: hello=${!!c.hello} frames=${c.frames.map((f) => f.subarray(0, 80).toString('latin1')).join(' | ').slice(0, 400)}\n  stderr tail: ${o.stderr.slice(-600)}`);
      if (o.timedOut) { fail('did not exit within 15 s'); continue; }
      if (o.signal || (o.code !== 0 && o.code !== 1)) fail(`exit ${o.code} signal ${o.signal}`);
      if (o.code === 0) stats.exit0++; else stats.exit1++;
      const lines = o.stderr.split('\n').filter(Boolean);
      const raw = lines.filter((l) => { try { JSON.parse(l); return false; } catch { return true; } });
      if (raw.length) fail(`non-JSON text on stderr: ${raw.slice(0, 3).join(' / ').slice(0, 300)}`);
      if (/^\s+at .+:\d+:\d+\)?$/m.test(o.stderr) || /"stack":|Uncaught|unhandled|node:internal/i.test(o.stderr)) fail('a stack trace or uncaught exception on stderr');
      const ended = lines.map((l) => { try { return JSON.parse(l) as { msg?: string; reason?: string }; } catch { return {}; } }).filter((l) => /^session ended: /.test(l.msg ?? ''));
      if (ended.length !== 1) fail(`expected one "session ended: <reason>" log line, saw ${ended.length}`);
      if (ended[0]?.reason === 'inactive') stats.inactive++;
      if (ended[0]?.reason === 'protocol_violation') stats.violations++;
      try {
        const replies = new FrameDecoder().push(o.stdout) as { id?: unknown; ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } }[];
        for (const r of replies) {
          stats.replies++;
          if (typeof r.id !== 'number' || typeof r.ok !== 'boolean') fail(`malformed reply ${JSON.stringify(r).slice(0, 200)}`);
          else if (!r.ok && (typeof r.error?.code !== 'string' || typeof r.error?.message !== 'string')) fail(`error reply without code/message ${JSON.stringify(r).slice(0, 200)}`);
        }
      } catch (err) {
        fail(`stdout is not a sequence of frames: ${(err as Error).message}`);
      }
      if (fingerprint(path.join(lane.base, 'victim')) !== lane.victim) {
        fail('the victim tree outside DIR changed');
        makeVictim(path.join(lane.base, 'fresh'));
      }
      if (fs.readdirSync(lane.base).sort().join(',') !== namesBefore) fail(`entries appeared next to DIR: ${fs.readdirSync(lane.base).join(', ')}`);
    }
  }));
  t.diagnostic(`${CASES} cases (seed ${seed}): ${stats.exit0} exited 0, ${stats.exit1} exited 1 (${stats.violations} protocol violations, ${stats.inactive} inactivity timeouts); ${stats.replies} replies checked; slowest ${stats.maxMs} ms`);
  assert.deepEqual(problems.slice(0, 10), [], `${problems.length} bad outcomes`);
});
