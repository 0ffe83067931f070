import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventDir, mapEventPath, nameMatchesText, orderEvents, outermost } from '../../../src/core/tracker-events.js';
import { parseInotifyFdinfo, watchKeyOfFdinfo, watchKeyOfStat } from '../../../src/master/tree-inotify.js';

describe('mapEventPath', () => {
  it('maps paths under the root to byte paths; the root itself is ""', () => {
    assert.deepEqual(mapEventPath('/m', 'update', '/m'), { type: 'update', rel: '', suspectFrom: -1, textComponents: [] });
    const m = mapEventPath('/m', 'create', '/m/a/b c/-x')!;
    assert.equal(m.rel, 'a/b c/-x');
    assert.equal(m.suspectFrom, -1);
    assert.equal(mapEventPath('/m', 'create', '/mx/a'), null);
    assert.equal(mapEventPath('/m', 'create', '/other'), null);
  });

  it('encodes valid UTF-8 names as their bytes', () => {
    const m = mapEventPath('/m', 'create', '/m/café/ü')!;
    assert.equal(m.rel, Buffer.from('café/ü', 'utf8').toString('latin1'));
    assert.equal(m.suspectFrom, -1);
  });

  it('flags the first component that lost bytes (U+FFFD)', () => {
    const m = mapEventPath('/m', 'delete', '/m/ok/d\uFFFD/f\uFFFDo')!;
    assert.equal(m.suspectFrom, 1);
    assert.deepEqual(m.textComponents, ['ok', 'd\uFFFD', 'f\uFFFDo']);
    assert.equal(mapEventPath('/m', 'delete', '/m/ok/x\uFFFD')!.suspectFrom, 1);
  });

  it('handles the file system root as the master root', () => {
    assert.equal(mapEventPath('/', 'create', '/etc/x')!.rel, 'etc/x');
  });
});

describe('event helpers', () => {
  it('eventDir is the parent, the root for top-level names and for the root', () => {
    assert.equal(eventDir('a/b/c'), 'a/b');
    assert.equal(eventDir('a'), '');
    assert.equal(eventDir(''), '');
  });

  it('orders deletes deepest first, then creates shallowest first', () => {
    const ev = (type: 'create' | 'delete' | 'update', p: string) => mapEventPath('/m', type, `/m/${p}`)!;
    const out = orderEvents([ev('create', 'a/b/c'), ev('delete', 'x'), ev('create', 'a'), ev('delete', 'x/y/z'), ev('update', 'a/b')]);
    assert.deepEqual(out.map((e) => `${e.type}:${e.rel}`), ['delete:x/y/z', 'delete:x', 'create:a', 'update:a/b', 'create:a/b/c']);
  });

  it('matches a non-UTF-8 name by its lossy decoding', () => {
    assert.ok(nameMatchesText(Buffer.from([0x66, 0xff, 0x6f]), 'f\uFFFDo'));
    assert.ok(!nameMatchesText(Buffer.from('foo'), 'f\uFFFDo'));
  });

  it('outermost keeps only subtree tops', () => {
    assert.deepEqual(outermost(['a/b', 'a', 'a/b/c', 'ab', 'x/y', 'x/y']).sort(), ['a', 'ab', 'x/y']);
    assert.deepEqual(outermost(['a', '', 'b/c']), ['']);
  });
});

describe('inotify fdinfo keys', () => {
  it('matches stat dev/ino with the kernel encoding of fdinfo', () => {
    // st_dev 0xfe00 (254:0) is shown by fdinfo as sdev fe00000 (major << 20 | minor)
    assert.equal(watchKeyOfStat(0xfe00n, 0x3f7e8n), watchKeyOfFdinfo('fe00000', '3f7e8'));
    // large minor numbers (e.g. 0:1234 anonymous devices)
    const dev = (0n << 8n) | (1234n & 0xffn) | ((1234n & ~0xffn) << 12n);
    assert.equal(watchKeyOfStat(dev, 5n), watchKeyOfFdinfo((1234).toString(16), '5'));
  });

  it('parses watch lines', () => {
    const text = 'pos:\t0\nflags:\t02004000\nmnt_id:\t17\nino:\t1039\n'
      + 'inotify wd:2 ino:20c5a3 sdev:fe00000 mask:4000fc6 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:a3c5200009663d51\n'
      + 'inotify wd:1 ino:20c5a2 sdev:fe00000 mask:4000fc6 ignored_mask:0\n';
    const s = new Set<string>();
    parseInotifyFdinfo(text, s);
    assert.deepEqual([...s].sort(), ['254:0:20c5a2', '254:0:20c5a3']);
  });
});
