// The rooms of src/ and the arrows between them (.dependency-cruiser.cjs, docs/architecture.md),
// checked by dependency-cruiser: none broken on the tree as it is, and each kind of break caught
// on a copy of the tree with one bad import added.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const depcruise = path.join(repo, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation { readonly rule: { readonly name: string }; readonly from: string; readonly to: string }

/** Cruise `root`/src with the project's rules; the violations found. */
function violations(root: string): Violation[] {
  const out = execFileSync(process.execPath, [depcruise, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
    cwd: root, encoding: 'utf8', maxBuffer: 64 << 20,
  });
  const result = JSON.parse(out) as { summary: { violations: Violation[]; totalCruised: number } };
  assert.ok(result.summary.totalCruised > 50, `cruised only ${result.summary.totalCruised} modules`);
  return result.summary.violations;
}

function describeAll(v: Violation[]): string {
  return v.map((x) => `${x.rule.name}: ${x.from} → ${x.to}`).join('\n');
}

/** A copy of the tree (src, the rules, tsconfig; node_modules linked) to break on purpose. */
function scratchTree(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-arch-'));
  fs.cpSync(path.join(repo, 'src'), path.join(dir, 'src'), { recursive: true });
  for (const f of ['.dependency-cruiser.cjs', 'tsconfig.json', 'package.json']) fs.copyFileSync(path.join(repo, f), path.join(dir, f));
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

function prepend(file: string, line: string): void {
  fs.writeFileSync(file, `${line}\n${fs.readFileSync(file, 'utf8')}`);
}

describe('architecture: rooms and arrows', () => {
  it('src has no upward import, no circle, no file outside a room, a pure core', () => {
    const v = violations(repo);
    assert.deepEqual(v, [], describeAll(v));
  });

  describe('each kind of break is caught', () => {
    const dir = scratchTree();
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    // One copy, several breaks: each is reported under its own rule.
    prepend(path.join(dir, 'src/slave/server.ts'), "import type { PassReport } from '../master/engine.js';");
    prepend(path.join(dir, 'src/transport/rsync.ts'), "import type { SlaveServer } from '../slave/server.js';");
    prepend(path.join(dir, 'src/core/xtime.ts'), "import fs from 'node:fs';");
    prepend(path.join(dir, 'src/core/bytepath.ts'), "import type { Xtime } from './xtime.js';");
    prepend(path.join(dir, 'src/core/xtime.ts'), "import type { BytePath } from './bytepath.js';");
    fs.mkdirSync(path.join(dir, 'src/misc'));
    fs.writeFileSync(path.join(dir, 'src/misc/helper.ts'), "import { gsyncdError } from '../core/errors.js';\nexport const e = gsyncdError;\n");
    const found = violations(dir);
    const has = (rule: string, from: string, to: string) =>
      assert.ok(found.some((x) => x.rule.name === rule && x.from === from && x.to === to), `${rule}: ${from} → ${to} not reported; got:\n${describeAll(found)}`);

    it('slave importing master', () => has('slave-arrows', 'src/slave/server.ts', 'src/master/engine.ts'));
    it('transport importing slave', () => has('transport-arrows', 'src/transport/rsync.ts', 'src/slave/server.ts'));
    it('I/O in core', () => has('core-is-pure', 'src/core/xtime.ts', 'fs'));
    it('a circle', () => assert.ok(found.some((x) => x.rule.name === 'no-circular' && x.from.startsWith('src/core/')), describeAll(found)));
    it('a file in no room', () => has('file-in-no-room', 'src/misc/helper.ts', 'src/core/errors.ts'));
  });
});
