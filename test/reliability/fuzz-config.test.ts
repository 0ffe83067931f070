// Reliability 5 - bad input: config files (fast-check, real files, the real CLI entry point).
//   - parseConfigText: arbitrary text (mostly the grammar's own pieces - keys in every spelling,
//     values of every type, templates, sections with good and bad URLs and regexes, comments,
//     CRLF, BOM - plus raw noise) either parses into entries that point at the right lines, or
//     throws a GsyncdError GSYNCD_ERR_CONFIG, exit 78, message `FILE:LINE: reason` where LINE is
//     the first bad line; never another exception;
//   - loadConfigFile on real files with arbitrary bytes (invalid UTF-8 included);
//   - `gsyncd -c FILE --config-get-all` (main(), in-process): exit 0, or one `gsyncd: FILE:LINE:
//     reason` line and exit 78 (also for a key that names a tunable not effective yet);
//   - `--config-set` / `--config-del` on arbitrary existing files with arbitrary names, values
//     and sections: on failure the file is byte-for-byte unchanged; on success it still parses
//     and holds the new line; never a temp file left behind;
//   - `--config-set` on a real file system that fails the write (a full tmpfs: no space, no
//     inodes; a read-only remount): exit 78 "cannot update config file", original intact, no
//     temp file.
// Subject: src/cli/config-file.ts, src/cli/config-edit.ts. URLs, frames and dispatcher argv have
// their fuzz tests in test/unit/url, test/unit/transport and test/unit/slave.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { applicableEntries, classifyLine, loadConfigFile, parseConfigText } from '../../src/cli/config-file.js';
import { main } from '../../src/cli/main.js';
import { isGsyncdError } from '../../src/core/errors.js';
import { findTunable, tunableNames } from '../../src/options/tunables.js';
import { mustRun, requireRoot, testCleanup, tmpDir, unmount } from '../support/proc.js';

const FILE = '/etc/gsyncd/fuzz.conf';
const RUNS = Number(process.env['GSYNCD_FUZZ_RUNS'] ?? 10_000);

// ─── arbitraries ────────────────────────────────────────────────────────────────────────────

const anyChar = fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n));
const keys = tunableNames();
const keySpelling = fc.constantFrom(...keys).chain((k) => fc.constantFrom(k, k.replace(/-/g, '_'), k.toUpperCase(), `  ${k}`, `${k}\t`));
const keyText = fc.oneof({ weight: 6, arbitrary: keySpelling }, fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'secondary-timeout', 'primary'), fc.string({ maxLength: 8 }));
const valueText = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('', ' ', '0', '1', '3', '100', '101', '-1', '+2', '1e3', '0x10', '1.5', '.5', '0.5s', '500ms', '2m', '1h', '3d', 'yes', 'no', 'On', 'OFF', 'true', 'false', 'TRACE', 'debug',
    'json', 'pretty', 'none', 'blind', 'wrapup', 'INFO', '127.0.0.1:9754', '[::1]:80', ':99999', 'host:', '--sparse', '--inplace -c', '${master}', '${eSlave}',
    '${mastervol}.log', '${bogus}', '${', '$}', '${}', 'a # comment', 'a#b', 'a\t#b', '/var/log/x.log', 'relative/path', '-', '11111111-2222-4333-8444-555555555555', 'not-a-uuid',
    'x'.repeat(5000), '9'.repeat(400), 'now', '2030-01-01T00:00:00Z', 'session_1', 'bad session!') },
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: anyChar, maxLength: 20 }),
);
const sep = fc.constantFrom(':', '=', ': ', ' = ', ':\t', '  :  ', ' ', '', '::', '=:');
const tail = fc.constantFrom('', '', ' # c', '# c', '\t#x', '\r', ' \r', '\v', '\u00a0');
const entryLine = fc.tuple(keyText, sep, valueText, tail).map(([k, s, v, c]) => `${k}${s}${v}${c}`);
const urlTok = fc.oneof(
  fc.constantFrom(':pop', '/data/x', 'file:///a', 'gluster://h:v', 'gluster://localhost:pop', 'ssh://root@h:/x', 'ssh://h:22:gluster://localhost:v', 'h::v', 'user@h:/p',
    'nonsense', 'ssh://', 'gluster://', 'file://', 'file://rel', '::', '[::1]:/x', 'h:/'),
  fc.string({ unit: fc.constantFrom(':', '/', '@', 'h', 'v', '.', '[', ']', 'ssh://', 'gluster://', 'file://', '1', ' '), maxLength: 6 }),
);
const rxTok = fc.oneof(fc.constantFrom('.*', 'gluster://.*', 'ssh://.*', '(', '[', '*', 'a{2,1}', '(?<n>a)(?<n>b)', '\\', '(?=', '.*ssh.*', '^file:///data/.*$', '(a|b'), fc.string({ maxLength: 6 }));
const section = fc.tuple(
  fc.constantFrom('peers', 'peersrx', 'PEERS', 'peer', 'global', '', 'peers\t'),
  fc.array(fc.oneof(urlTok, rxTok), { maxLength: 3 }),
  fc.constantFrom(']', ']', '', '] # x', ']x', ' ]', ']]', '] ;x'),
  fc.constantFrom('', ' ', '  '),
).map(([k, args, close, lead]) => `${lead}[${[k, ...args].join(' ')}${close}`);
const comment = fc.tuple(fc.constantFrom('#', ';', '  #', '\t;'), fc.string({ unit: anyChar, maxLength: 15 })).map(([c, s]) => `${c}${s.replace(/[\n]/g, ' ')}`);
const blank = fc.constantFrom('', ' ', '\t', '\r', '   \r');
const noise = fc.oneof(fc.string({ unit: anyChar, maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 })).map((s) => s.replace(/\n/g, ''));
const line = fc.oneof({ weight: 8, arbitrary: entryLine }, { weight: 2, arbitrary: section }, { weight: 2, arbitrary: comment }, { weight: 2, arbitrary: blank }, { weight: 1, arbitrary: noise });
const configText = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(fc.array(line, { maxLength: 14 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.boolean())
    .map(([ls, nl, bom, trailing]) => `${bom ? '\uFEFF' : ''}${ls.join(nl)}${trailing ? nl : ''}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.string({ unit: anyChar, maxLength: 300 }) },
);
const urlPairs = fc.oneof({ weight: 3, arbitrary: fc.constant([] as string[]) }, fc.tuple(urlTok, urlTok).map(([a, b]) => [a, b]), fc.tuple(urlTok).map(([a]) => [a]));

// ─── the contract ──────────────────────────────────────────────────────────────────────────

/** `FILE:LINE: reason` → LINE (1-based), or throws. */
function lineOf(err: unknown, file: string): { line: number; reason: string } {
  assert.ok(isGsyncdError(err, 'GSYNCD_ERR_CONFIG'), `not a GSYNCD_ERR_CONFIG: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`);
  assert.equal(err.exitCode, 78);
  const prefix = `${file}:`;
  assert.ok(err.message.startsWith(prefix), `message must start with ${prefix}: ${JSON.stringify(err.message)}`);
  const m = /^(\d+): (.+)$/s.exec(err.message.slice(prefix.length));
  assert.ok(m, `FILE:LINE: reason expected: ${JSON.stringify(err.message)}`);
  return { line: Number(m[1]), reason: m[2]! };
}

/** The parse contract for one text. Returns 'ok' or 'error'. */
function checkParse(text: string, file = FILE): 'ok' | 'error' {
  const lines = text.split('\n');
  let cfg;
  try {
    cfg = parseConfigText(text, file);
  } catch (err) {
    const { line, reason } = lineOf(err, file);
    assert.ok(line >= 1 && line <= lines.length, `line ${line} of ${lines.length}`);
    // LINE is the first bad line: everything before it parses, and it fails alone, same reason.
    assert.doesNotThrow(() => parseConfigText(lines.slice(0, line - 1).join('\n'), file), `lines before ${line} parse`);
    assert.throws(() => parseConfigText(lines[line - 1]!, file), (e: unknown) => {
      const alone = lineOf(e, file);
      assert.equal(alone.line, 1);
      assert.equal(alone.reason, reason);
      return true;
    });
    return 'error';
  }
  assert.equal(cfg.path, file);
  assert.equal(cfg.sections[0]?.scope.kind, 'global', 'the first section is the global part');
  const entryLines = lines.map((l, i) => [classifyLine(l), i + 1] as const).filter(([s]) => s.kind === 'entry');
  const entries = cfg.sections.flatMap((s) => s.entries);
  assert.equal(entries.length, entryLines.length, 'one entry per key: value line');
  entries.forEach((e, i) => {
    const [shape, n] = entryLines[i]!;
    assert.equal(e.line, n);
    assert.equal(e.file, file);
    assert.equal(shape.kind === 'entry' ? findTunable(shape.key)?.name : undefined, e.name);
  });
  // Selecting sections for any pair of URLs works too.
  applicableEntries(cfg, ['gluster://localhost:pop', 'file:///data/x']);
  applicableEntries(cfg, ['ssh://root@h:22:file:///x']);
  return 'ok';
}

async function cli(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: {}, cwd,
    defaultConfigFile: path.join(cwd, 'no-default.conf'),
    runMaster: async () => { throw new Error('no session in the config fuzz'); },
    runSlave: async () => { throw new Error('no session in the config fuzz'); },
  });
  return { code, stdout, stderr };
}

/** Values a tunable accepts (by its spec), for edits that should succeed. */
function validValue(key: string): fc.Arbitrary<string> {
  const spec = findTunable(key);
  if (!spec) return valueText;
  const { min, max } = spec as { min?: number; max?: number };
  switch (spec.type) {
    case 'bool': return fc.constantFrom('yes', 'no', 'true', 'false', 'on', 'off', '1', '0');
    case 'int': return fc.integer({ min: min ?? 0, max: Math.min(max ?? 100_000, 100_000) }).map(String);
    case 'duration-seconds': return fc.tuple(fc.integer({ min: Math.ceil(min ?? 0), max: 10_000 }), fc.constantFrom('', 's', 'ms', 'm')).map(([n, u]) => `${n}${u}`);
    case 'enum': return fc.constantFrom(...(spec as { choices: readonly string[] }).choices);
    default: return fc.oneof(
      fc.constantFrom('127.0.0.1:9754', '[::1]:9000', '11111111-2222-4333-8444-555555555555', 'session-1', '/var/log/gsyncd.log', '--sparse --inplace', '${master}.log', 'ssh -oFoo=bar'),
      fc.stringMatching(/^[A-Za-z0-9_./-]{0,30}$/),
    );
  }
}

function argvSafe(s: string): string {
  return Buffer.from(s.replace(/\0/g, ''), 'utf8').toString('utf8');
}

const tally = { parsedOk: 0, parsedErr: 0 };

test(`parseConfigText: ${RUNS} arbitrary texts → entries on the right lines, or GSYNCD_ERR_CONFIG 78 "FILE:LINE: reason" at the first bad line`, { timeout: 200_000 }, (t) => {
  fc.assert(fc.property(configText, (text) => { if (checkParse(text) === 'ok') tally.parsedOk++; else tally.parsedErr++; }), { numRuns: RUNS });
  t.diagnostic(`${RUNS} cases: ${tally.parsedOk} parsed, ${tally.parsedErr} refused with FILE:LINE`);
  assert.ok(tally.parsedOk > RUNS / 10 && tally.parsedErr > RUNS / 10, 'the generator reaches both outcomes');
});

test(`loadConfigFile on real files with arbitrary bytes, and gsyncd -c FILE --config-get-all`, { timeout: 200_000 }, async (t) => {
  const stack = testCleanup(t);
  const dir = await tmpDir('fuzz-conf', stack);
  const file = path.join(dir, 'g.conf');
  const runs = Math.max(1000, Math.round(RUNS / 5));
  let ok = 0;
  let notEffective = 0;
  await fc.assert(fc.asyncProperty(fc.oneof(configText.map((s) => Buffer.from(s, 'utf8')), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a))), async (bytes) => {
    fs.writeFileSync(file, bytes);
    try {
      const cfg = await loadConfigFile(file, true);
      assert.ok(cfg && cfg.path === file);
    } catch (err) {
      lineOf(err, file);
    }
    const r = await cli(['-c', file, '--config-get-all'], dir);
    if (r.code === 0) {
      ok++;
      assert.equal(r.stderr, '');
      assert.equal(r.stdout.split('\n').filter(Boolean).length, keys.length, 'one line per tunable');
      return;
    }
    assert.match(r.stderr, new RegExp(`^gsyncd: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+: [^\\n]+\\n$`), `exit ${r.code}: one "gsyncd: FILE:LINE: reason" line`);
    assert.equal(r.code, 78, r.stderr);
    // A valid line naming a tunable that is not effective yet is refused as a config error too.
    if (/is not effective yet in this version/.test(r.stderr)) notEffective++;
  }), { numRuns: runs });
  // Missing, unreadable (a directory) and absent-but-optional files.
  await assert.rejects(loadConfigFile(path.join(dir, 'missing.conf'), true), (e: unknown) => isGsyncdError(e, 'GSYNCD_ERR_CONFIG') && /cannot read config file/.test((e as Error).message));
  await assert.rejects(loadConfigFile(dir, true), (e: unknown) => isGsyncdError(e, 'GSYNCD_ERR_CONFIG'));
  assert.equal(await loadConfigFile(path.join(dir, 'missing.conf'), false), null);
  t.diagnostic(`${runs} files: ${ok} read, ${runs - ok} refused with 78, ${notEffective} of them for a tunable not effective yet (named at FILE:LINE)`);
});

test(`--config-set / --config-del: ${RUNS} arbitrary edits of arbitrary files; failure leaves the file untouched, success leaves a parseable file, never a temp file`, { timeout: 230_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  // tmpfs: the atomic write's fsyncs cost nothing there.
  const dir = await tmpDir('fuzz-set', stack);
  await mustRun('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'gsyncd-fuzz-set', dir]);
  stack.defer(`unmount ${dir}`, () => unmount(dir));
  const file = path.join(dir, 'gsyncd.conf');
  const outcome = { set: 0, del: 0, refused: 0, byCode: new Map<number, number>() };
  const name = fc.oneof({ weight: 6, arbitrary: keySpelling.map((k) => k.trim()) }, keyText);
  // Mostly values of the key's own type (so that many edits succeed), else anything.
  const nameAndValue = name.chain((k) => fc.tuple(fc.constant(k), fc.oneof({ weight: 2, arbitrary: validValue(k) }, valueText)));
  const edit = fc.record({
    existing: fc.option(configText, { nil: undefined, freq: 8 }),
    op: fc.constantFrom('--config-set', '--config-set', '--config-del'),
    // What an argv can carry: no NUL, well-formed UTF-8 (the OS hands bytes; node decodes them).
    nv: nameAndValue.map(([k, v]) => [argvSafe(k), argvSafe(v)] as const), urls: urlPairs.map((u) => u.map(argvSafe)),
  });
  await fc.assert(fc.asyncProperty(edit, async ({ existing, op, nv: [key, value], urls }) => {
    if (existing === undefined) fs.rmSync(file, { force: true });
    else fs.writeFileSync(file, existing);
    const before = existing === undefined ? null : fs.readFileSync(file);
    const argv = op === '--config-set' ? ['-c', file, op, key, value, ...urls] : ['-c', file, op, key, ...urls];
    const r = await cli(argv, dir);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f !== 'gsyncd.conf'), [], 'no temp file left');
    outcome.byCode.set(r.code, (outcome.byCode.get(r.code) ?? 0) + 1);
    if (r.code !== 0) {
      outcome.refused++;
      assert.ok([1, 64, 78].includes(r.code) && r.code !== 1, `exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /^gsyncd: [^\n]+\n$/, 'one line on stderr');
      const after = fs.existsSync(file) ? fs.readFileSync(file) : null;
      assert.deepEqual(after, before, `a refused ${op} changed the file: ${r.stderr}`);
      return;
    }
    if (op === '--config-del') { outcome.del++; return; }
    outcome.set++;
    const text = fs.readFileSync(file, 'utf8');
    const spec = findTunable(key)!;
    assert.ok(text.split('\n').includes(`${spec.name}: ${value}`), `the new line "${spec.name}: ${value}" is in the file`);
    const parsedBefore = (() => { try { parseConfigText(before?.toString('utf8') ?? '', file); return true; } catch { return false; } })();
    if (parsedBefore) assert.doesNotThrow(() => parseConfigText(text, file), 'a file that parsed still parses after a successful --config-set');
  }), { numRuns: RUNS });
  t.diagnostic(`${RUNS} edits: ${outcome.set} set, ${outcome.del} del, ${outcome.refused} refused (exit codes ${JSON.stringify([...outcome.byCode])})`);
});

test('--config-set when the write fails (no space, no inodes, read-only): exit 78, original intact, no temp file', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const original = '# comment kept\nsync-jobs: 3\n[peers :pop /data/mirror]\ntimeout: 60\n';
  const cases: string[] = [];
  const check = async (dir: string, what: string, value: string, others: string[] = []) => {
    const file = path.join(dir, 'gsyncd.conf');
    const r = await cli(['-c', file, '--config-set', 'rsync-options', value], dir);
    assert.equal(r.code, 78, `${what}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^gsyncd: cannot update config file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: [^\\n]*(ENOSPC|EROFS|no space|read-only)[^\\n]*\\n$`, 'i'), what);
    assert.equal(fs.readFileSync(file, 'utf8'), original, `${what}: the original is intact`);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f !== 'gsyncd.conf' && !others.includes(f)), [], `${what}: no temp file`);
    cases.push(what);
  };
  // A tiny tmpfs: values from just over the free space to far beyond it.
  const full = await tmpDir('fuzz-full', stack);
  await mustRun('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'gsyncd-fuzz-full', full]);
  stack.defer(`unmount ${full}`, () => unmount(full));
  fs.writeFileSync(path.join(full, 'gsyncd.conf'), original);
  const filler = path.join(full, 'filler');
  try { fs.writeFileSync(filler, Buffer.alloc(64 << 10)); } catch { /* fills the rest */ }
  for (const size of [1, 100, 4096, 4097, 8192, 20_000, 100_000, 1 << 20]) await check(full, `no space, value of ${size} bytes`, '-'.repeat(size), ['filler']);
  // No inodes left: the temp file cannot even be created.
  const noInodes = await tmpDir('fuzz-inodes', stack);
  await mustRun('mount', ['-t', 'tmpfs', '-o', 'size=1m,nr_inodes=2', 'gsyncd-fuzz-inodes', noInodes]);
  stack.defer(`unmount ${noInodes}`, () => unmount(noInodes));
  fs.writeFileSync(path.join(noInodes, 'gsyncd.conf'), original);
  for (let i = 0; i < 20; i++) { try { fs.writeFileSync(path.join(noInodes, `fill${i}`), ''); } catch { break; } }
  for (const f of fs.readdirSync(noInodes)) if (f.startsWith('fill')) fs.rmSync(path.join(noInodes, f));
  // Re-fill what is free so that only gsyncd.conf is left standing and no inode remains.
  let fills = 0;
  for (; fills < 20; fills++) { try { fs.writeFileSync(path.join(noInodes, `.keep${fills}`), ''); } catch { break; } }
  const keep = fs.readdirSync(noInodes).filter((f) => f.startsWith('.keep'));
  await (async () => {
    const file = path.join(noInodes, 'gsyncd.conf');
    const r = await cli(['-c', file, '--config-set', 'rsync-options', '--inplace'], noInodes);
    assert.equal(r.code, 78, `no inodes: exit ${r.code} ${r.stderr}`);
    assert.equal(fs.readFileSync(file, 'utf8'), original, 'no inodes: the original is intact');
    assert.deepEqual(fs.readdirSync(noInodes).filter((f) => f !== 'gsyncd.conf' && !keep.includes(f)), [], 'no inodes: no temp file');
    cases.push('no inodes');
  })();
  // Read-only.
  const ro = await tmpDir('fuzz-ro', stack);
  await mustRun('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'gsyncd-fuzz-ro', ro]);
  stack.defer(`unmount ${ro}`, () => unmount(ro));
  fs.writeFileSync(path.join(ro, 'gsyncd.conf'), original);
  await mustRun('mount', ['-o', 'remount,ro', ro]);
  await check(ro, 'read-only file system', '--inplace');
  t.diagnostic(`write failures: ${cases.join(', ')}`);
});
