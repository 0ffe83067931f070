// A file past ~400 lines holds two ideas (docs/ARCHITECTURE, issue #19): split it by idea.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAX_LINES = 400;
const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return tsFiles(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

/** Lines as `wc -l` counts them (newlines). */
function lineCount(file: string): number {
  const text = fs.readFileSync(file, 'utf8');
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

describe('layout: file size', () => {
  it(`no src/**/*.ts file is over ${MAX_LINES} lines`, () => {
    const files = tsFiles(src);
    assert.ok(files.length > 0, 'found the sources');
    const over = files.map((f) => [path.relative(src, f), lineCount(f)] as const).filter(([f, n]) => n > MAX_LINES);
    assert.deepEqual(over.map(([f, n]) => `src/${f}: ${n} lines`), []);
  });
});
