import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { childPath, diffDirectory, type DirDiff } from '../../../src/core/diff.js';
import type { EntryType, MasterEntry, SlaveEntry } from '../../../src/core/entry.js';
import { URXTIME, type Xtime } from '../../../src/core/xtime.js';

// ---- builders ---------------------------------------------------------------------------------
let nextIno = 1;
function m(name: string, type: EntryType, over: Partial<MasterEntry> = {}): MasterEntry {
  return {
    name, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 1000, gid: 1000, size: type === 'file' ? 10 : 0,
    mtimeSec: 1_700_000_000, mtimeNsec: 0, id: `ino:${nextIno++}`, nlink: 1,
    ...(type === 'symlink' ? { target: 'somewhere' } : {}),
    ...(type === 'dir' ? { xtime: { sec: 100, usec: 0 } } : {}),
    ...over,
  };
}
/** The slave twin of a master entry (same stat), with optional overrides. */
function s(e: MasterEntry, over: Partial<SlaveEntry> = {}): SlaveEntry {
  const { id: _id, nlink: _nlink, xtime, ...stat } = e;
  return { ...stat, ...(e.type === 'dir' ? { mark: xtime ?? null } : {}), ...over };
}
const X = (sec: number, usec = 0): Xtime => ({ sec, usec });
const names = (es: readonly { name: string }[]) => es.map((e) => e.name).sort();
function assertNothing(d: DirDiff): void {
  assert.deepEqual(d.missing, []);
  assert.deepEqual(d.extra, []);
  assert.deepEqual(d.changed, []);
  assert.deepEqual(d.dirAttrs, []);
  assert.deepEqual(d.descend, []);
  assert.deepEqual(d.markAhead, []);
}

// ---- example tests ----------------------------------------------------------------------------
describe('diffDirectory: presence and type', () => {
  it('reports new files and dirs as missing, nothing else', () => {
    const f = m('new.txt', 'file');
    const d = m('newdir', 'dir');
    const kept = m('kept', 'file');
    const r = diffDirectory('sub', [f, d, kept], [s(kept)]);
    assert.deepEqual(names(r.missing), ['new.txt', 'newdir']);
    assert.deepEqual(r.extra, []);
    assert.deepEqual(r.changed, []);
    assert.deepEqual(r.descend, [], 'a new directory is not descended via `descend`');
    assert.equal(r.dir, 'sub');
    assert.equal(r.scanned, 3);
    assert.equal(childPath(r, 'new.txt'), 'sub/new.txt');
  });

  it('reports slave entries the master no longer has as extra', () => {
    const kept = m('kept', 'file');
    const gone = s(m('gone', 'file'));
    const goneDir = s(m('gonedir', 'dir'));
    const r = diffDirectory('', [kept], [s(kept), gone, goneDir]);
    assert.deepEqual(r.missing, []);
    assert.deepEqual(r.extra, [gone, goneDir]);
    assert.equal(childPath(r, 'x'), 'x');
  });

  it('unchanged listing: nothing to do', () => {
    const es = [m('a', 'file'), m('b', 'dir'), m('c', 'symlink'), m('d', 'other')];
    assertNothing(diffDirectory('', es, es.map((e) => s(e))));
    assertNothing(diffDirectory('', [], []));
  });

  it('file replaced by a dir (and dir by a file): missing and extra under the same name', () => {
    const mf = m('x', 'file');
    const md = m('y', 'dir');
    const r = diffDirectory('', [m('x', 'dir'), m('y', 'file')], [s(mf), s(md)]);
    assert.deepEqual(names(r.missing), ['x', 'y']);
    assert.deepEqual(names(r.extra), ['x', 'y']);
    assert.deepEqual(r.missing.map((e) => e.type).sort(), ['dir', 'file']);
    assert.deepEqual(r.changed, []);
    assert.deepEqual(r.descend, []);
  });

  it('file replaced by a symlink and back', () => {
    const r = diffDirectory('', [m('a', 'symlink'), m('b', 'file')], [s(m('a', 'file')), s(m('b', 'symlink'))]);
    assert.deepEqual(names(r.missing), ['a', 'b']);
    assert.deepEqual(names(r.extra), ['a', 'b']);
    assert.deepEqual(r.changed, []);
  });

  it('symlink whose target changed is a replacement, not a change', () => {
    const ml = m('l', 'symlink', { target: 'new-target' });
    const r = diffDirectory('', [ml], [s(ml, { target: 'old-target' })]);
    assert.deepEqual(r.missing, [ml]);
    assert.deepEqual(names(r.extra), ['l']);
    assert.equal(r.extra[0]!.target, 'old-target');
    assert.deepEqual(r.changed, []);
  });

  it('slave null (directory absent on the slave): everything is missing', () => {
    const es = [m('a', 'file'), m('b', 'dir'), m('c', 'symlink')];
    const r = diffDirectory('new', es, null);
    assert.deepEqual(r.missing, es);
    assert.deepEqual(r.extra, []);
    assert.deepEqual(r.descend, []);
    assert.equal(r.scanned, 3);
  });

  it('master empty: every slave entry is extra', () => {
    const sl = [s(m('a', 'file')), s(m('b', 'dir'))];
    const r = diffDirectory('', [], sl);
    assert.deepEqual(r.extra, sl);
    assert.equal(r.scanned, 0);
  });
});

describe('diffDirectory: changed non-directories', () => {
  for (const [what, over] of [
    ['size', { size: 11 }],
    ['mtime seconds', { mtimeSec: 1_700_000_001 }],
    ['mtime nanoseconds', { mtimeNsec: 1 }],
    ['mode', { mode: 0o600 }],
    ['setuid bit', { mode: 0o4644 }],
    ['uid', { uid: 0 }],
    ['gid', { gid: 0 }],
  ] as const) {
    it(`a file whose ${what} differs is changed`, () => {
      const mf = m('f', 'file');
      const r = diffDirectory('', [mf], [s(mf, over)]);
      assert.deepEqual(r.changed, [mf]);
      assert.deepEqual(r.missing, []);
      assert.deepEqual(r.extra, []);
      assert.deepEqual(r.dirAttrs, []);
      // Same size and mtime: only attributes differ (what a tar stream need not resend).
      assert.equal(r.sameData.has('f'), !['size', 'mtime seconds', 'mtime nanoseconds'].includes(what));
    });
  }

  it('a symlink with the same target but other owner is changed', () => {
    const ml = m('l', 'symlink');
    const r = diffDirectory('', [ml], [s(ml, { uid: 5 })]);
    assert.deepEqual(r.changed, [ml]);
    assert.deepEqual(r.missing, []);
  });
});

describe('diffDirectory: directories', () => {
  it('a directory whose mode/owner/mtime differ is in dirAttrs, never in changed', () => {
    for (const over of [{ mode: 0o700 }, { uid: 1 }, { gid: 1 }, { mtimeSec: 1 }, { mtimeNsec: 9 }]) {
      const md = m('d', 'dir');
      const r = diffDirectory('', [md], [s(md, over)]);
      assert.deepEqual(r.dirAttrs, [md], JSON.stringify(over));
      assert.deepEqual(r.changed, []);
      assert.deepEqual(r.missing, []);
    }
  });

  it('a directory whose size differs only (st_size of a dir) is not reported', () => {
    const md = m('d', 'dir', { size: 4096 });
    assertNothing(diffDirectory('', [md], [s(md, { size: 8192 })]));
  });

  it('descends only when the master xtime is newer than the slave mark', () => {
    const older = m('older', 'dir', { xtime: X(200) });
    const equal = m('equal', 'dir', { xtime: X(200) });
    const usecNewer = m('usec', 'dir', { xtime: X(200, 1) });
    const r = diffDirectory('', [older, equal, usecNewer], [
      s(older, { mark: X(150, 999_999) }), s(equal, { mark: X(200) }), s(usecNewer, { mark: X(200) }),
    ]);
    assert.deepEqual(r.descend.map((x) => x.entry.name), ['older', 'usec']);
    assert.deepEqual(r.descend.map((x) => x.stime), [X(150, 999_999), X(200)]);
    assert.deepEqual(r.markAhead, []);
  });

  it('a verification (descendAll) descends into every directory both sides have, keeping each one\'s mark', () => {
    const equal = m('equal', 'dir', { xtime: X(200) });
    const newer = m('newer', 'dir', { xtime: X(300) });
    const onlyMaster = m('new', 'dir', { xtime: X(300) });
    const r = diffDirectory('', [equal, newer, onlyMaster], [s(equal, { mark: X(200) }), s(newer, { mark: X(200) })], null, true);
    assert.deepEqual(r.descend.map((x) => x.entry.name), ['equal', 'newer']);
    assert.deepEqual(r.descend.map((x) => x.stime), [X(200), X(200)]);
    assert.deepEqual(names(r.missing), ['new'], 'a directory the slave lacks is created, not descended');
    assert.deepEqual(diffDirectory('', [equal], [s(equal, { mark: X(200) })]).descend, [], 'without it: not descended');
  });

  it('missing (null or absent) slave mark: descend from URXTIME', () => {
    const a = m('a', 'dir');
    const b = m('b', 'dir');
    const r = diffDirectory('', [a, b], [s(a, { mark: null }), { ...s(b), mark: undefined }]);
    assert.deepEqual(r.descend.map((x) => x.entry.name), ['a', 'b']);
    for (const x of r.descend) assert.deepEqual(x.stime, URXTIME);
    assert.deepEqual(r.markAhead, []);
  });

  it('slave mark newer than the master xtime: reported in markAhead AND descended from URXTIME', () => {
    const d = m('d', 'dir', { xtime: X(100, 5) });
    const r = diffDirectory('', [d], [s(d, { mark: X(100, 6) })]);
    assert.deepEqual(r.markAhead, [d]);
    assert.equal(r.descend.length, 1);
    assert.equal(r.descend[0]!.entry, d);
    assert.deepEqual(r.descend[0]!.stime, URXTIME);
  });

  it('a master directory without an xtime is descended (with whatever mark the slave has)', () => {
    const { xtime: _x, ...noXtime } = m('d', 'dir');
    const d: MasterEntry = noXtime;
    const r = diffDirectory('', [d], [s(d, { mark: X(5) })]);
    assert.equal(r.descend.length, 1);
    assert.equal(r.descend[0]!.entry, d);
    assert.deepEqual(r.descend[0]!.stime, X(5));
    assert.deepEqual(r.markAhead, []);
    const r2 = diffDirectory('', [d], [s(d, { mark: null })]);
    assert.deepEqual(r2.descend[0]!.stime, URXTIME);
  });

  it('non-directories are never descended', () => {
    const f = m('f', 'file');
    const r = diffDirectory('', [f], [s(f)]);
    assert.deepEqual(r.descend, []);
  });
});

describe('diffDirectory: byte-string names', () => {
  it('handles non-UTF-8 bytes, newlines, leading dashes and near-duplicates as distinct names', () => {
    const weird = ['\xff\xfe', '\xff', 'caf\xe9', 'caf\xc3\xa9', 'line\nbreak', '-rf', '--', ' lead', 'trail ', '\\', '*'];
    const master = weird.map((n) => m(n, 'file'));
    // Slave has half of them, plus an extra whose name differs only in one byte.
    const slave = master.filter((_, i) => i % 2 === 0).map((e) => s(e));
    slave.push(s(m('\xff\xfd', 'file')));
    const r = diffDirectory('\xc0dir', master, slave);
    assert.deepEqual(names(r.missing), names(master.filter((_, i) => i % 2 === 1)));
    assert.deepEqual(names(r.extra), ['\xff\xfd']);
    assert.deepEqual(r.changed, []);
    assert.equal(childPath(r, '\xff\xfe'), '\xc0dir/\xff\xfe');
  });
});

// ---- property: applying the decisions converges -----------------------------------------------
const nameChar = fc.integer({ min: 1, max: 0xff }).filter((c) => c !== 0x2f).map((c) => String.fromCharCode(c));
const nameArb = fc.string({ unit: fc.oneof(nameChar, fc.constantFrom('a', 'b', '-', '\n', '\xff')), minLength: 1, maxLength: 4 })
  .filter((n) => n !== '.' && n !== '..');
const typeArb = fc.constantFrom<EntryType>('file', 'dir', 'symlink', 'other');
const xtimeArb = fc.option(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })).map(([sec, usec]) => X(sec, usec)), { nil: undefined });
const statArb = fc.record({
  type: typeArb,
  mode: fc.constantFrom(0o644, 0o755, 0o4755),
  uid: fc.constantFrom(0, 1000),
  gid: fc.constantFrom(0, 1000),
  size: fc.constantFrom(0, 1, 4096),
  mtimeSec: fc.constantFrom(1, 2),
  mtimeNsec: fc.constantFrom(0, 5),
  target: fc.constantFrom('t1', 't2', '\xff'),
  xtime: xtimeArb,
  mark: fc.option(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })).map(([sec, usec]) => X(sec, usec)), { nil: null }),
});
type Stat = typeof statArb extends fc.Arbitrary<infer T> ? T : never;
function masterOf(name: string, st: Stat, i: number): MasterEntry {
  return {
    name, type: st.type, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, mtimeSec: st.mtimeSec,
    mtimeNsec: st.mtimeNsec, id: `id${i}`, nlink: 1,
    ...(st.type === 'symlink' ? { target: st.target } : {}),
    ...(st.type === 'dir' && st.xtime ? { xtime: st.xtime } : {}),
  };
}
function slaveOf(name: string, st: Stat): SlaveEntry {
  return {
    name, type: st.type, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, mtimeSec: st.mtimeSec,
    mtimeNsec: st.mtimeNsec, ...(st.type === 'symlink' ? { target: st.target } : {}),
    ...(st.type === 'dir' ? { mark: st.mark } : {}),
  };
}
/** Master and slave listings over a shared pool of names, so overlaps (and type swaps) are common. */
const listingsArb = fc.uniqueArray(nameArb, { minLength: 0, maxLength: 12 }).chain((pool) =>
  fc.record({
    ms: fc.tuple(...pool.map(() => fc.tuple(fc.boolean(), statArb))),
    ss: fc.tuple(...pool.map(() => fc.tuple(fc.boolean(), statArb, fc.boolean()))),
    slaveNull: fc.nat(9).map((n) => n === 0),
  }).map(({ ms, ss, slaveNull }) => {
    const master: MasterEntry[] = [];
    const slave: SlaveEntry[] = [];
    pool.forEach((name, i) => {
      const [inM, mst] = ms[i]!;
      const [inS, sst, twin] = ss[i]!;
      if (inM) master.push(masterOf(name, mst, i));
      // `twin`: the slave holds an identical copy (the common case in a real tree), own mark.
      if (inS) slave.push(inM && twin ? { ...slaveOf(name, mst), ...(mst.type === 'dir' ? { mark: sst.mark } : {}) } : slaveOf(name, sst));
    });
    return { master, slave, slaveNull };
  }),
);

function key(e: { name: string; type: EntryType; target?: string | undefined }): string {
  return JSON.stringify([e.name, e.type, e.type === 'symlink' ? e.target : null]);
}
function statKey(e: MasterEntry | SlaveEntry): string {
  const base = [e.name, e.type, e.mode, e.uid, e.gid, e.mtimeSec, e.mtimeNsec, e.type === 'symlink' ? e.target : null];
  return JSON.stringify(e.type === 'dir' ? base : [...base, e.size]);
}
function toSlave(e: MasterEntry): SlaveEntry {
  const { id: _id, nlink: _nlink, xtime, ...stat } = e;
  return { ...stat, ...(e.type === 'dir' ? { mark: xtime ?? null } : {}) };
}

describe('diffDirectory: properties', () => {
  it('classifies every master and slave name exactly once', () => {
    fc.assert(fc.property(listingsArb, ({ master, slave, slaveNull }) => {
      const sl = slaveNull ? null : slave;
      const r = diffDirectory('d', master, sl);
      const slaveNames = new Set((sl ?? []).map((e) => e.name));
      const missing = new Set(r.missing.map((e) => e.name));
      // every missing entry is a master entry; every extra is a slave entry
      for (const e of r.missing) assert.ok(master.includes(e));
      for (const e of r.extra) assert.ok((sl ?? []).includes(e));
      // a master name is missing iff the slave lacks a same-kind entry under it
      for (const e of master) {
        const twin = (sl ?? []).find((x) => x.name === e.name);
        const sameKind = !!twin && key(twin) === key(e);
        assert.equal(missing.has(e.name), !sameKind, `master ${JSON.stringify(e.name)}`);
      }
      // a slave name is extra iff the master lacks a same-kind entry under it
      const extra = new Set(r.extra.map((e) => e.name));
      for (const e of sl ?? []) {
        const twin = master.find((x) => x.name === e.name);
        assert.equal(extra.has(e.name), !(twin && key(twin) === key(e)), `slave ${JSON.stringify(e.name)}`);
      }
      // changed/dirAttrs/descend only name entries present on both sides with the same kind
      for (const e of [...r.changed, ...r.dirAttrs, ...r.descend.map((x) => x.entry), ...r.markAhead]) {
        assert.ok(slaveNames.has(e.name) && !missing.has(e.name));
      }
      for (const e of r.changed) assert.notEqual(e.type, 'dir');
      for (const e of [...r.dirAttrs, ...r.markAhead]) assert.equal(e.type, 'dir');
      for (const x of r.descend) assert.equal(x.entry.type, 'dir');
      for (const e of r.markAhead) assert.ok(r.descend.some((x) => x.entry === e));
      assert.equal(r.scanned, master.length);
    }), { numRuns: 500 });
  });

  it('applying the decisions to the slave listing reproduces the master listing, and a re-diff is empty', () => {
    fc.assert(fc.property(listingsArb, ({ master, slave, slaveNull }) => {
      const sl = slaveNull ? null : slave;
      const r = diffDirectory('d', master, sl);
      // simulate the slave: remove extra, add missing, replace changed, fix dir attributes
      const byName = new Map<string, SlaveEntry>((sl ?? []).map((e) => [e.name, e]));
      for (const e of r.extra) byName.delete(e.name);
      for (const e of r.missing) {
        assert.ok(!byName.has(e.name), `name ${JSON.stringify(e.name)} still occupied when creating it`);
        byName.set(e.name, toSlave(e));
      }
      for (const e of [...r.changed, ...r.dirAttrs]) {
        const mark = byName.get(e.name)!.mark;
        byName.set(e.name, { ...toSlave(e), ...(e.type === 'dir' ? { mark } : {}) });
      }
      const after = [...byName.values()];
      assert.deepEqual(after.map(key).sort(), master.map(key).sort(), 'names and types');
      assert.deepEqual(after.map(statKey).sort(), master.map(statKey).sort(), 'stat');
      const again = diffDirectory('d', master, after);
      assert.deepEqual(again.missing, []);
      assert.deepEqual(again.extra, []);
      assert.deepEqual(again.changed, []);
      assert.deepEqual(again.dirAttrs, []);
      // stamping every descended directory with its master xtime leaves nothing to descend
      // (except directories without an xtime, which are always visited)
      const stamped = after.map((e) => {
        const me = master.find((x) => x.name === e.name)!;
        return e.type === 'dir' && me.xtime ? { ...e, mark: me.xtime } : e;
      });
      const third = diffDirectory('d', master, stamped);
      assert.deepEqual(third.markAhead, []);
      assert.deepEqual(third.descend.map((x) => x.entry.name).sort(),
        master.filter((e) => e.type === 'dir' && !e.xtime).map((e) => e.name).sort());
    }), { numRuns: 500 });
  });

  it('descend/markAhead follow the xtime vs mark rule exactly', () => {
    fc.assert(fc.property(listingsArb, ({ master, slave }) => {
      const r = diffDirectory('', master, slave);
      for (const me of master) {
        if (me.type !== 'dir') continue;
        const se = slave.find((x) => x.name === me.name);
        if (!se || se.type !== 'dir') continue;
        const mark = se.mark ?? URXTIME;
        const d = r.descend.find((x) => x.entry === me);
        const ahead = r.markAhead.includes(me);
        if (!me.xtime) {
          assert.ok(d && !ahead);
          assert.deepEqual(d.stime, mark);
        } else {
          const cmp = me.xtime.sec !== mark.sec ? me.xtime.sec - mark.sec : me.xtime.usec - mark.usec;
          assert.equal(ahead, cmp < 0);
          assert.equal(!!d, cmp !== 0);
          if (d) assert.deepEqual(d.stime, cmp < 0 ? URXTIME : mark);
        }
      }
    }), { numRuns: 500 });
  });
});

describe('diffDirectory: changes only the change time shows (xattrs, ACLs)', () => {
  const since = X(1_700_000_100, 500);
  const ns = (sec: number, usec: number) => BigInt(sec) * 1_000_000_000n + BigInt(usec) * 1000n;
  it('a file or directory changed after the stime is sent again although its stat agrees', () => {
    const f = m('f', 'file', { ctimeNs: ns(1_700_000_100, 501) });
    const d = m('d', 'dir', { ctimeNs: ns(1_700_000_200, 0) });
    const r = diffDirectory('', [f, d], [s(f), s(d)], since);
    assert.deepEqual(names(r.changed), ['f']);
    assert.deepEqual(names(r.dirAttrs), ['d']);
  });
  it('not when the change is not newer than the stime (same µs included), nor for symlinks', () => {
    const f = m('f', 'file', { ctimeNs: ns(1_700_000_100, 500) + 999n });
    const l = m('l', 'symlink', { ctimeNs: ns(1_800_000_000, 0) });
    const r = diffDirectory('', [f, l], [s(f), s(l)], since);
    assert.deepEqual(r.changed, []);
  });
  it('not without a stime (never synced, or unknown): the stat comparison decides alone', () => {
    const f = m('f', 'file', { ctimeNs: ns(1_800_000_000, 0) });
    assert.deepEqual(diffDirectory('', [f], [s(f)], URXTIME).changed, []);
    assert.deepEqual(diffDirectory('', [f], [s(f)], null).changed, []);
    assert.deepEqual(diffDirectory('', [f], [s(f)]).changed, []);
  });
});
