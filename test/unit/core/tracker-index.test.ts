import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { IndexedEntry } from '../../../src/core/tracker-compare.js';
import { loadOrCreateId, readRootIdentity, TreeIndex, writeRootIdentity } from '../../../src/master/tree-index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-tracker-index-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => path.join(dir, `index-${++n}.journal`);

function rec(type: IndexedEntry['type'], ino: string, size = 1): IndexedEntry {
  return { type, ino, size, mtimeNs: '1', ctimeNs: '2', mode: 0o644, uid: 0, gid: 0 };
}

describe('TreeIndex', () => {
  it('records confirmed directories and survives a reopen', () => {
    const f = file();
    const ix = TreeIndex.open(f);
    assert.equal(ix.dir(''), null);
    ix.confirm('', [{ name: 'a', rec: rec('dir', '10') }, { name: 'f\xff', rec: rec('file', '11') }], 1000);
    ix.confirm('a', [{ name: 'x', rec: rec('file', '12') }], 900);
    ix.confirm('a/empty', [], 950);
    ix.noteClock(5000);
    ix.flush();
    ix.close();
    const again = TreeIndex.open(f);
    assert.equal(again.confirmedXtime(''), 1000);
    assert.equal(again.confirmedXtime('a'), 900);
    assert.deepEqual([...again.dir('')!.keys()].sort(), ['a', 'f\xff']);
    assert.deepEqual(again.dir('a')!.get('x'), rec('file', '12'));
    assert.equal(again.dir('a/empty')!.size, 0);
    assert.equal(again.maxXtime, 5000);
    assert.equal(again.entryCount, 3);
    again.close();
  });

  it('forgets the subtree of a removed or replaced directory', () => {
    const ix = TreeIndex.open(file());
    ix.confirm('', [{ name: 'a', rec: rec('dir', '10') }, { name: 'b', rec: rec('dir', '20') }], 1);
    ix.confirm('a', [{ name: 'sub', rec: rec('dir', '11') }], 1);
    ix.confirm('a/sub', [{ name: 'f', rec: rec('file', '12') }], 1);
    ix.confirm('b', [{ name: 'g', rec: rec('file', '21') }], 1);
    ix.confirm('', [{ name: 'b', rec: rec('dir', '99') }], 2); // a removed, b replaced
    assert.equal(ix.confirmedXtime('a'), undefined);
    assert.equal(ix.confirmedXtime('a/sub'), undefined);
    assert.equal(ix.dir('b'), null);
    assert.equal(ix.entryCount, 1);
    ix.close();
  });

  it('a directory whose records are unchanged writes nothing but its xtime', () => {
    const f = file();
    const ix = TreeIndex.open(f);
    ix.confirm('', [{ name: 'a', rec: rec('file', '1') }], 1);
    ix.flush();
    const size = fs.statSync(f).size;
    ix.confirm('', [{ name: 'a', rec: rec('file', '1') }], 1);
    ix.flush();
    assert.equal(fs.statSync(f).size, size);
    ix.close();
  });
});

describe('tracker state files', () => {
  it('creates the id once and keeps it', () => {
    const f = path.join(dir, 'volume-id');
    const id = loadOrCreateId(f, () => assert.fail('not malformed'));
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(loadOrCreateId(f, () => assert.fail('not malformed')), id);
    fs.writeFileSync(f, 'garbage');
    let warned = false;
    const fresh = loadOrCreateId(f, () => { warned = true; });
    assert.ok(warned && fresh !== id);
  });

  it('reads back the root identity; none or garbage is null', () => {
    const f = path.join(dir, 'root-identity.json');
    assert.equal(readRootIdentity(f), null);
    writeRootIdentity(f, { dev: '64768', ino: '42' }, '/data');
    assert.deepEqual(readRootIdentity(f), { dev: '64768', ino: '42' });
    fs.writeFileSync(f, '{');
    assert.equal(readRootIdentity(f), null);
  });
});
