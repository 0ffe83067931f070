import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EntryType, MasterEntry, SlaveEntry } from '../../../src/core/entry.js';
import { linkGroupOpen, oldNameVerdict, openLinkGroups, renameNeedsData, sendsInPlace, splitLinkNames, takenNameVerdict } from '../../../src/core/renames-links.js';

const stat = { mode: 0o644, uid: 0, gid: 0, size: 10, mtimeSec: 100, mtimeNsec: 0 };
const m = (name: string, id: string, more: Partial<MasterEntry> & { type?: EntryType } = {}): MasterEntry =>
  ({ name, type: 'file', id, nlink: 1, ...stat, ...more });
const s = (name: string, more: Partial<SlaveEntry> = {}): SlaveEntry => ({ name, type: 'file', ...stat, ...more });

describe('oldNameVerdict', () => {
  it('the object gone from its old name: a rename', () => {
    assert.equal(oldNameVerdict(m('new', 'i1'), null), 'rename');
    assert.equal(oldNameVerdict(m('new', 'i1'), m('old', 'i2')), 'rename'); // another object took the old name
  });
  it('a file still at its old name: the new name is a hard link', () => {
    assert.equal(oldNameVerdict(m('new', 'i1', { nlink: 2 }), m('old', 'i1', { nlink: 2 })), 'link');
  });
  it('a directory still at its old name: nothing (it has one name)', () => {
    assert.equal(oldNameVerdict(m('new', 'd1', { type: 'dir' }), m('old', 'd1', { type: 'dir' })), 'still-there');
  });
});

describe('renameNeedsData', () => {
  it('no data when the slave copy already matches; else the quick check', () => {
    assert.equal(renameNeedsData(m('f', 'i'), s('old')), false);
    assert.equal(renameNeedsData(m('f', 'i'), s('old', { size: 11 })), true);
    assert.equal(renameNeedsData(m('f', 'i'), s('old', { mode: 0o600 })), true);
    assert.equal(renameNeedsData(m('f', 'i'), undefined), true);
  });
  it('never for a directory', () => {
    assert.equal(renameNeedsData(m('d', 'i', { type: 'dir' }), undefined), false);
  });
});

describe('sendsInPlace', () => {
  it('linked files (by count or by known names) go in place; others not', () => {
    assert.equal(sendsInPlace(m('f', 'i'), 1), false);
    assert.equal(sendsInPlace(m('f', 'i', { nlink: 2 }), 1), true);
    assert.equal(sendsInPlace(m('f', 'i'), 2), true); // a stale link count in a FUSE listing
    assert.equal(sendsInPlace(m('l', 'i', { type: 'symlink', nlink: 2 }), 2), false);
  });
});

describe('takenNameVerdict', () => {
  it('same object, or unknown before: an ordinary change', () => {
    let asked = 0;
    const known = () => { asked++; return true; };
    assert.equal(takenNameVerdict(m('f', 'i1'), 'i1', known), 'same');
    assert.equal(takenNameVerdict(m('f', 'i1'), undefined, known), 'same');
    assert.equal(takenNameVerdict(m('d', 'i1', { type: 'dir' }), 'i0', known), 'same');
    assert.equal(asked, 0, 'where the object is known is asked only when another object took the name');
  });
  it('another object: replaced by an existing one when known elsewhere, else a fresh copy', () => {
    assert.equal(takenNameVerdict(m('f', 'i1'), 'i0', () => true), 'replace-by-existing');
    assert.equal(takenNameVerdict(m('f', 'i1'), 'i0', () => false), 'fresh-copy');
  });
});

describe('splitLinkNames', () => {
  const master = [m('a', 'i1', { nlink: 2 }), m('b', 'i1', { nlink: 2 }), m('c', 'i2'), m('d', 'd1', { type: 'dir', nlink: 3 })];
  it('names the slave holds with fewer links than the master', () => {
    const slave = [s('a', { nlink: 2 }), s('b'), s('c'), s('d', { type: 'dir' })];
    assert.deepEqual(splitLinkNames(master, slave, new Set()).map((e) => e.name), ['b']);
  });
  it('skips handled names, names missing on the slave or of another type there', () => {
    assert.deepEqual(splitLinkNames(master, [s('a'), s('b')], new Set(['a'])).map((e) => e.name), ['b']);
    assert.deepEqual(splitLinkNames(master, [s('a', { type: 'symlink' })], new Set()).map((e) => e.name), []);
  });
  it('nothing without a slave listing or a linked file', () => {
    assert.deepEqual(splitLinkNames(master, null, new Set()), []);
    assert.deepEqual(splitLinkNames([m('c', 'i2')], [s('c')], new Set()), []);
  });
});

describe('link groups', () => {
  it('open while fewer names are confirmed than the link count', () => {
    assert.equal(linkGroupOpen(1, 2), true);
    assert.equal(linkGroupOpen(2, 2), false);
    const confirmed = new Map([['i1', 2], ['i2', 1]]);
    assert.equal(openLinkGroups(new Map([['i1', 2], ['i2', 3], ['i3', 2]]), (id) => confirmed.get(id) ?? 0), 2);
  });
});
