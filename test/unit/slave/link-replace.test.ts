// The slave's link op replacing a name (hard-link groups made whole): never leaves the name
// missing, whatever fails; and its listing carries link counts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { slaveMarkKey } from '../../../src/gluster/xattr-names.js';
import { SlaveServer } from '../../../src/slave/server.js';

const markKey = slaveMarkKey('11111111-2222-4333-8444-555555555555');

test('link over an existing name: replaced by the link, or left as it was when the source is gone', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-link-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'a'));
  fs.mkdirSync(path.join(root, 'b'));
  fs.writeFileSync(path.join(root, 'a/f'), 'current\n');
  fs.writeFileSync(path.join(root, 'b/g'), 'separate copy\n');
  const server = new SlaveServer(root);

  const [r1] = await server.apply([{ op: 'link', existing: 'a/f', path: 'b/g' }], markKey);
  assert.deepEqual(r1, { ok: true });
  assert.equal(fs.statSync(path.join(root, 'b/g')).ino, fs.statSync(path.join(root, 'a/f')).ino);
  assert.deepEqual(fs.readdirSync(path.join(root, 'b')), ['g'], 'no temporary name left');

  const [r2] = await server.apply([{ op: 'link', existing: 'a/f', path: 'b/g' }], markKey);
  assert.deepEqual(r2, { ok: true, noop: true }, 'one object already: nothing to do, and said so');

  fs.writeFileSync(path.join(root, 'b/h'), 'keep me\n');
  const [r3] = await server.apply([{ op: 'link', existing: 'a/gone', path: 'b/h' }], markKey);
  assert.equal(r3?.ok, false);
  assert.equal(r3?.ok === false && r3.errno, 'ENOENT');
  assert.equal(fs.readFileSync(path.join(root, 'b/h'), 'utf8'), 'keep me\n', 'a failed link leaves the name as it was');
  assert.deepEqual(fs.readdirSync(path.join(root, 'b')).sort(), ['g', 'h']);

  const listed = await server.list('b', markKey);
  assert.deepEqual(listed?.map((e) => [e.name, e.nlink]).sort(), [['g', 2], ['h', undefined]]);
});
