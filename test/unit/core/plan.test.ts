import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { baseName, depthOf, isWithin, joinRel, parentOf } from '../../../src/core/bytepath.js';
import type { EntryType, MasterEntry } from '../../../src/core/entry.js';
import { independentWaves, opPaths, type EntryOp, type OpResult } from '../../../src/core/ops.js';
import {
  decisionCount, emptyDecisions, parkingName, planBatch, type BatchPlan, type Decisions,
} from '../../../src/core/plan.js';

function dirEntry(name: string, over: Partial<MasterEntry> = {}): MasterEntry {
  return { name, type: 'dir', mode: 0o755, uid: 1, gid: 2, size: 0, mtimeSec: 10, mtimeNsec: 20, id: `id:${name}`, nlink: 2, ...over };
}

// ---- arbitraries ------------------------------------------------------------------------------
const comp = fc.constantFrom('a', 'b', 'c', '\xff', '-x', 'n\nl');
const pathArb = fc.array(comp, { minLength: 1, maxLength: 5 }).map((cs) => cs.join('/'));
/** Directory paths for attributes: may be the root ('') and may repeat. */
const dirPathArb = fc.oneof({ weight: 1, arbitrary: fc.constant('') }, { weight: 6, arbitrary: pathArb });
const typeArb = fc.constantFrom<EntryType>('file', 'dir', 'symlink', 'other');
const entryArb = fc.record({ mode: fc.constantFrom(0o755, 0o700, 0o1777), uid: fc.nat(3), gid: fc.nat(3), mtimeSec: fc.nat(5), mtimeNsec: fc.nat(5) })
  .map((o) => dirEntry('x', o));
const pair = fc.tuple(pathArb, pathArb);
const decisionsArb: fc.Arbitrary<Decisions> = fc.record({
  renames: fc.uniqueArray(pair, { selector: ([f]) => f, maxLength: 8 }).map((ps) => ps.map(([from, to]) => ({ from, to }))),
  deletes: fc.array(fc.record({ path: pathArb, type: typeArb }), { maxLength: 8 }),
  mkdirs: fc.uniqueArray(fc.tuple(pathArb, entryArb), { selector: ([p]) => p, maxLength: 10 }).map((xs) => xs.map(([path, entry]) => ({ path, entry }))),
  links: fc.array(pair, { maxLength: 5 }).map((ps) => ps.map(([existing, path]) => ({ existing, path }))),
  data: fc.array(fc.record({ path: pathArb, size: fc.nat(1e6), inplace: fc.boolean() }), { maxLength: 6 }),
  postLinks: fc.array(pair, { maxLength: 5 }).map((ps) => ps.map(([existing, path]) => ({ existing, path }))),
  dirAttrs: fc.array(fc.tuple(dirPathArb, entryArb), { maxLength: 10 }).map((xs) => xs.map(([path, entry]) => ({ path, entry }))),
});
const tagArb = fc.stringMatching(/^[0-9a-z]{1,8}$/);

const isParked = (p: string) => baseName(p).startsWith('.gsyncd-rename-');
function split(plan: BatchPlan, _d: Decisions) {
  return {
    park: plan.before.filter((o) => o.op === 'rename' && isParked(o.to)),
    deletes: plan.before.filter((o) => o.op === 'delete'),
    mkdirs: plan.before.filter((o) => o.op === 'mkdir'),
    unpark: plan.before.filter((o) => o.op === 'rename' && isParked(o.from)),
    direct: plan.before.filter((o) => o.op === 'rename' && !isParked(o.from) && !isParked(o.to)),
  };
}

/** Every path a decision names for an entry op (renames, deletes, mkdirs, links). */
function entryPaths(d: Decisions, skipRename?: number): string[] {
  return [
    ...d.renames.flatMap((r, i) => (i === skipRename ? [] : [r.from, r.to])),
    ...d.deletes.map((x) => x.path), ...d.mkdirs.map((m) => m.path), ...d.links.flatMap((l) => [l.existing, l.path]),
  ];
}

describe('parkingName', () => {
  it('parks at the slave root under a hidden, tagged name', () => {
    const p = parkingName('T1', 3);
    assert.equal(parentOf(p), '');
    assert.ok(baseName(p).startsWith('.gsyncd-rename-T1-3'));
  });

  it('is unique per index within a batch (property)', () => {
    fc.assert(fc.property(fc.array(pathArb, { minLength: 1, maxLength: 30 }), tagArb, (froms, tag) => {
      const parked = froms.map((_f, i) => parkingName(tag, i));
      assert.equal(new Set(parked).size, parked.length);
      for (const p of parked) assert.ok(!froms.includes(p));
    }));
  });
});

describe('planBatch: examples', () => {
  it('empty decisions: empty plan', () => {
    const d = emptyDecisions();
    assert.equal(decisionCount(d), 0);
    assert.deepEqual(planBatch(d, 't'), { before: [], data: [], after: [], dirs: [] });
  });

  it('orders phases: park, delete, mkdir, unpark, link | data | postLink | dir attributes', () => {
    const d = emptyDecisions();
    d.links.push({ existing: 'l0', path: 'l1' });
    d.postLinks.push({ existing: 'p0', path: 'p1' });
    d.dirAttrs.push({ path: 'da', entry: dirEntry('da') });
    d.data.push({ path: 'f', size: 3, inplace: false });
    d.mkdirs.push({ path: 'm', entry: dirEntry('m', { mode: 0o700, uid: 7, gid: 8 }) });
    d.deletes.push({ path: 'gone', type: 'file' });
    d.renames.push({ from: 'r0', to: 'm/r1' }, { from: 'x', to: 'y' });
    assert.equal(decisionCount(d), 7);
    const plan = planBatch(d, 'T');
    const park = parkingName('T', 0);
    assert.deepEqual(plan.before, [
      { op: 'rename', from: 'r0', to: park },
      { op: 'delete', path: 'gone', type: 'file' },
      { op: 'mkdir', path: 'm', mode: 0o700, uid: 7, gid: 8 },
      { op: 'rename', from: park, to: 'm/r1' }, // into a new directory: parked
      { op: 'rename', from: 'x', to: 'y' }, // related to nothing else: in one step
      { op: 'link', existing: 'l0', path: 'l1' },
    ]);
    assert.deepEqual(plan.data, d.data);
    assert.deepEqual(plan.after, [{ op: 'link', existing: 'p0', path: 'p1' }]);
    assert.deepEqual(plan.dirs, ['da']);
  });

  it('directory attributes: deduplicated, deepest first, the root as "." and last', () => {
    const d = emptyDecisions();
    for (const p of ['', 'a', 'a/b/c', 'a/b', 'x', 'a/b', '']) d.dirAttrs.push({ path: p, entry: dirEntry(p) });
    const { dirs, after } = planBatch(d, 't');
    assert.deepEqual(after, []);
    assert.equal(dirs.length, 5);
    assert.equal(dirs[0], 'a/b/c');
    assert.equal(dirs[1], 'a/b');
    assert.deepEqual(dirs.slice(2, 4).sort(), ['a', 'x']);
    assert.equal(dirs[4], '.');
  });

  it('does not mutate its input', () => {
    const d = emptyDecisions();
    d.deletes.push({ path: 'a', type: 'dir' }, { path: 'a/b/c', type: 'file' });
    d.mkdirs.push({ path: 'x/y', entry: dirEntry('y') }, { path: 'x', entry: dirEntry('x') });
    d.dirAttrs.push({ path: 'a', entry: dirEntry('a') }, { path: 'a/b', entry: dirEntry('b') });
    const copy = structuredClone(d);
    planBatch(d, 't');
    assert.deepEqual(d, copy);
  });
});

describe('planBatch: order invariants (properties)', () => {
  it('every decision becomes exactly the expected ops, in the right half', () => {
    fc.assert(fc.property(decisionsArb, tagArb, (d, tag) => {
      const plan = planBatch(d, tag);
      const { park, direct } = split(plan, d);
      assert.equal(park.length + direct.length, d.renames.length);
      assert.equal(plan.before.length, 2 * park.length + direct.length + d.deletes.length + d.mkdirs.length + d.links.length);
      assert.equal(plan.after.length, d.postLinks.length);
      assert.deepEqual(plan.data, d.data);
      assert.ok(!plan.before.some((o) => o.op === 'setattr' || o.op === 'mark'), 'no setattr before data');
      assert.ok(plan.after.every((o) => o.op === 'link'), 'after holds only the post-links');
      // links: pre-existing ones before data in order, post-links after data in order
      assert.deepEqual(plan.before.filter((o) => o.op === 'link'), d.links.map((l) => ({ op: 'link', ...l })));
      assert.deepEqual(plan.after.filter((o) => o.op === 'link'), d.postLinks.map((l) => ({ op: 'link', ...l })));
      // same multisets of deletes and mkdirs
      const { deletes, mkdirs } = split(plan, d);
      const sortJ = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
      assert.deepEqual(sortJ(deletes), sortJ(d.deletes.map((x) => ({ op: 'delete', path: x.path, type: x.type }))));
      assert.deepEqual(sortJ(mkdirs), sortJ(d.mkdirs.map((m) => ({ op: 'mkdir', path: m.path, mode: m.entry.mode, uid: m.entry.uid, gid: m.entry.gid }))));
      // every directory whose attributes are due appears once in `dirs` ('' as '.')
      assert.deepEqual([...plan.dirs].sort(), [...new Set(d.dirAttrs.map((x) => (x.path === '' ? '.' : x.path)))].sort());
    }), { numRuns: 1000 });
  });

  it('phase order: all parks, then deletes, then mkdirs, then unparks, then links', () => {
    const rank: Record<string, number> = { park: 0, delete: 1, mkdir: 2, unpark: 3, link: 4 };
    fc.assert(fc.property(decisionsArb, tagArb, (d, tag) => {
      const { before } = planBatch(d, tag);
      const ranks = before.map((o) => rank[o.op === 'rename' ? (isParked(o.to) ? 'park' : 'unpark') : o.op]!);
      for (let i = 1; i < ranks.length; i++) assert.ok(ranks[i - 1]! <= ranks[i]!, `op ${i} out of phase: ${JSON.stringify(before)}`);
    }), { numRuns: 1000 });
  });

  it('each rename is split into a park and an unpark through a unique parking name, park first, unless it is related to no other entry decision', () => {
    fc.assert(fc.property(decisionsArb, tagArb, (d, tag) => {
      const plan = planBatch(d, tag);
      const { park, unpark, direct } = split(plan, d);
      assert.equal(park.length + direct.length, d.renames.length);
      assert.equal(unpark.length, park.length);
      const parkedNames = park.map((o) => (o as { to: string }).to);
      assert.equal(new Set(parkedNames).size, parkedNames.length, 'parking names unique');
      d.renames.forEach((r, i) => {
        const unrelated = r.from !== r.to && entryPaths(d, i).every((q) => [r.from, r.to].every((p) => !isWithin(p, q) && !isWithin(q, p)));
        const one = direct.filter((o) => o.op === 'rename' && o.from === r.from && o.to === r.to);
        if (unrelated && r.from !== '' && r.to !== '' && !isWithin(r.to, r.from) && !isWithin(r.from, r.to)) {
          assert.equal(one.length, 1, `unrelated rename ${r.from} -> ${r.to} goes in one step`);
          return;
        }
        assert.equal(one.length, 0, `rename ${r.from} -> ${r.to} related to another decision is parked`);
        const p = park.find((o) => o.op === 'rename' && o.from === r.from)!;
        assert.ok(p, 'every rename source is parked');
        assert.equal(parentOf(p.to), '', 'parked at the root');
        const ui = plan.before.findIndex((o) => o.op === 'rename' && o.from === p.to);
        assert.ok(ui > plan.before.indexOf(p));
        const u = plan.before[ui]!;
        assert.ok(u.op === 'rename' && u.to === r.to);
      });
      // every park precedes every delete
      const lastPark = Math.max(-1, ...park.map((o) => plan.before.indexOf(o)));
      const firstDelete = plan.before.findIndex((o) => o.op === 'delete');
      if (firstDelete >= 0) assert.ok(lastPark < firstDelete);
    }), { numRuns: 1000 });
  });

  it('deletes deepest first; mkdirs shallowest first (parents before children); unparks by target depth', () => {
    fc.assert(fc.property(decisionsArb, tagArb, (d, tag) => {
      const plan = planBatch(d, tag);
      const { deletes, mkdirs, unpark } = split(plan, d);
      const depths = (ops: EntryOp[], f: (o: EntryOp) => string) => ops.map((o) => depthOf(f(o)));
      const dd = depths(deletes, (o) => (o as { path: string }).path);
      for (let i = 1; i < dd.length; i++) assert.ok(dd[i - 1]! >= dd[i]!);
      const md = depths(mkdirs, (o) => (o as { path: string }).path);
      for (let i = 1; i < md.length; i++) assert.ok(md[i - 1]! <= md[i]!);
      const mp = mkdirs.map((o) => (o as { path: string }).path);
      mp.forEach((p, i) => {
        for (let j = 0; j < mp.length; j++) if (j !== i && isWithin(p, mp[j]!)) assert.ok(j < i, `${mp[j]} must precede ${p}`);
      });
      const ud = depths(unpark, (o) => (o as { to: string }).to);
      for (let i = 1; i < ud.length; i++) assert.ok(ud[i - 1]! <= ud[i]!);
    }), { numRuns: 1000 });
  });

  it('directory attributes: deepest first (a child before its parent), the root last', () => {
    fc.assert(fc.property(decisionsArb, tagArb, (d, tag) => {
      const dirs = planBatch(d, tag).dirs;
      assert.equal(new Set(dirs).size, dirs.length, 'no directory twice');
      const rootAt = dirs.indexOf('.');
      if (rootAt >= 0) assert.equal(rootAt, dirs.length - 1);
      assert.ok(!dirs.includes(''));
      const sets = dirs.filter((p) => p !== '.');
      for (let i = 1; i < sets.length; i++) assert.ok(depthOf(sets[i - 1]!) >= depthOf(sets[i]!));
      sets.forEach((p, i) => {
        for (let j = 0; j < sets.length; j++) if (j !== i && isWithin(sets[j]!, p)) assert.ok(j < i, `${sets[j]} must precede ${p}`);
      });
    }), { numRuns: 1000 });
  });
});

// ---- executing a plan against an in-memory slave ------------------------------------------------
// Models the slave server's semantics: rename needs its source and the target's parent; a rename
// across dir/non-dir clears the target; delete is recursive and idempotent; mkdir needs its parent.
class MemFs {
  readonly nodes = new Map<string, { type: EntryType; id: string }>();
  constructor(init: Record<string, string>) {
    // value: 'dir:<id>' or 'file:<id>'
    for (const [p, v] of Object.entries(init)) {
      const [type, id] = v.split(':') as [EntryType, string];
      this.nodes.set(p, { type, id });
    }
  }
  private parentOk(p: string): boolean {
    const par = parentOf(p);
    return par === '' || this.nodes.get(par)?.type === 'dir';
  }
  private subtree(p: string): string[] {
    return [...this.nodes.keys()].filter((k) => isWithin(k, p));
  }
  apply(op: EntryOp): OpResult {
    const enoent = { ok: false, errno: 'ENOENT', message: `${op.op}: ENOENT` } as const;
    switch (op.op) {
      case 'rename': {
        const src = this.nodes.get(op.from);
        if (!src || !this.parentOk(op.to)) return enoent;
        if (isWithin(op.to, op.from) && op.to !== op.from) return { ok: false, errno: 'EINVAL', message: 'into itself' };
        const dst = this.nodes.get(op.to);
        if (dst) for (const k of this.subtree(op.to)) this.nodes.delete(k);
        for (const k of this.subtree(op.from)) {
          const n = this.nodes.get(k)!;
          this.nodes.delete(k);
          this.nodes.set(op.to + k.slice(op.from.length), n);
        }
        return { ok: true };
      }
      case 'delete':
        for (const k of this.subtree(op.path)) this.nodes.delete(k);
        return { ok: true };
      case 'mkdir':
        if (!this.parentOk(op.path)) return enoent;
        if (this.nodes.get(op.path)?.type !== 'dir') this.nodes.set(op.path, { type: 'dir', id: `new:${op.path}` });
        return { ok: true };
      case 'link': {
        const src = this.nodes.get(op.existing);
        if (!src || !this.parentOk(op.path)) return enoent;
        this.nodes.set(op.path, src);
        return { ok: true };
      }
      default:
        return this.nodes.has(op.path) ? { ok: true } : enoent;
    }
  }
  run(plan: BatchPlan): OpResult[] {
    const rs = plan.before.map((o) => this.apply(o));
    for (const x of plan.data) {
      if (!this.parentOk(x.path)) rs.push({ ok: false, errno: 'ENOENT', message: `data ${x.path}` });
      else this.nodes.set(x.path, { type: 'file', id: `data:${x.path}` });
    }
    rs.push(...plan.after.map((o) => this.apply(o)));
    for (const p of plan.dirs) if (p !== '.' && this.nodes.get(p)?.type !== 'dir') rs.push({ ok: false, errno: 'ENOENT', message: `dir attrs ${p}` });
    return rs;
  }
  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.nodes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, `${v.type}:${v.id}`]));
  }
}
const allOk = (rs: OpResult[]) => assert.deepEqual(rs.filter((r) => !r.ok), []);

describe('planBatch: executing plans', () => {
  it('a file/dir type swap of two names (a↔b) is carried out by renames', () => {
    const fs = new MemFs({ a: 'file:A', b: 'dir:B', 'b/in': 'file:I' });
    const d = emptyDecisions();
    d.deletes.push({ path: 'a', type: 'file' }, { path: 'b', type: 'dir' });
    d.renames.push({ from: 'a', to: 'b' }, { from: 'b', to: 'a' });
    allOk(fs.run(planBatch(d, 't')));
    assert.deepEqual(fs.snapshot(), { a: 'dir:B', 'a/in': 'file:I', b: 'file:A' });
  });

  it('a rename cycle of three names never collides', () => {
    const fs = new MemFs({ x: 'file:X', y: 'dir:Y', z: 'file:Z' });
    const d = emptyDecisions();
    d.renames.push({ from: 'x', to: 'y' }, { from: 'y', to: 'z' }, { from: 'z', to: 'x' });
    allOk(fs.run(planBatch(d, 't')));
    assert.deepEqual(fs.snapshot(), { x: 'file:Z', y: 'file:X', z: 'dir:Y' });
  });

  it('a rename into a new directory and into a renamed directory', () => {
    const fs = new MemFs({ d: 'dir:D', 'd/k': 'file:K', f: 'file:F', g: 'file:G', old: 'dir:O' });
    const d = emptyDecisions();
    d.renames.push({ from: 'g', to: 'e/g' }, { from: 'f', to: 'n/m/f' }, { from: 'd', to: 'e' });
    d.mkdirs.push({ path: 'n/m', entry: dirEntry('m') }, { path: 'n', entry: dirEntry('n') });
    d.links.push({ existing: 'n/m/f', path: 'n/f2' });
    d.data.push({ path: 'n/m/new', size: 1, inplace: false });
    d.postLinks.push({ existing: 'n/m/new', path: 'e/new2' });
    d.dirAttrs.push({ path: 'n', entry: dirEntry('n') }, { path: 'n/m', entry: dirEntry('m') });
    allOk(fs.run(planBatch(d, 't')));
    assert.deepEqual(fs.snapshot(), {
      e: 'dir:D', 'e/g': 'file:G', 'e/k': 'file:K', 'e/new2': 'file:data:n/m/new', n: 'dir:new:n',
      'n/f2': 'file:F', 'n/m': 'dir:new:n/m', 'n/m/f': 'file:F', 'n/m/new': 'file:data:n/m/new', old: 'dir:O',
    });
  });

  it('random renames of distinct files into existing or new directories all succeed (property)', () => {
    const existingDirs = ['', 'd0', 'd1', 'd0/e0'];
    const newDirs = ['n0', 'n0/m0', 'n1'];
    const fileArb = fc.tuple(fc.constantFrom(...existingDirs), fc.constantFrom('f', 'g', 'h', '\xff'));
    const targetArb = fc.tuple(fc.constantFrom(...existingDirs, ...newDirs), fc.constantFrom('t', 'u', 'f', 'g'));
    const scen = fc.record({
      files: fc.uniqueArray(fileArb.map(([dd, n]) => joinRel(dd, n)), { minLength: 1, maxLength: 8 }),
      targets: fc.uniqueArray(targetArb.map(([dd, n]) => joinRel(dd, n)), { minLength: 8, maxLength: 8 }),
      nRenames: fc.nat(8),
      mkdirOrder: fc.shuffledSubarray(newDirs, { minLength: 3, maxLength: 3 }),
      tag: tagArb,
    });
    fc.assert(fc.property(scen, ({ files, targets, nRenames, mkdirOrder, tag }) => {
      const init: Record<string, string> = {};
      for (const dd of existingDirs) if (dd) init[dd] = `dir:${dd}`;
      for (const f of files) init[f] = `file:${f}`;
      const fs = new MemFs(init);
      const renames = files.slice(0, nRenames).map((from, i) => ({ from, to: targets[i]! }));
      // A target occupied by a file that is not itself renamed away is a name the master reuses:
      // the diff would have reported it as changed, not missing; keep those out.
      const sources = new Set(renames.map((r) => r.from));
      fc.pre(renames.every((r) => !(r.to in init) || sources.has(r.to)));
      const d = emptyDecisions();
      d.renames.push(...renames);
      d.mkdirs.push(...mkdirOrder.map((p) => ({ path: p, entry: dirEntry(baseName(p)) })));
      allOk(fs.run(planBatch(d, tag)));
      const expected: Record<string, string> = { ...init };
      for (const r of renames) delete expected[r.from];
      for (const r of renames) expected[r.to] = `file:${r.from}`;
      for (const p of newDirs) expected[p] = `dir:new:${p}`;
      assert.deepEqual(fs.snapshot(), Object.fromEntries(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))));
    }), { numRuns: 500 });
  });

  // The engine can produce this batch: `mv a/x x; rm -r a; touch a` on the master. The root visit
  // sees the type swap of `a` (delete a, dir) and `x` missing with the id the slave has at `a/x`
  // (rename a/x → x). The source is parked *inside* `a`, which the delete phase then removes.
  it('a rename whose source lies in a directory deleted by the same batch survives', () => {
    const fs = new MemFs({ a: 'dir:A', 'a/x': 'file:X' });
    const d = emptyDecisions();
    d.deletes.push({ path: 'a', type: 'dir' });
    d.renames.push({ from: 'a/x', to: 'x' });
    d.data.push({ path: 'a', size: 0, inplace: false });
    const rs = fs.run(planBatch(d, 't'));
    allOk(rs);
    assert.equal(fs.snapshot()['x'], 'file:X');
  });

  // Reachable in one batch: `mv a/b d; mv a c` on the master. The root visit finds `c` and `d`
  // missing, the id map has them at `a` and `a/b`, neither exists on the master any more:
  // renames [a → c, a/b → d].
  it('renames of a directory and of an entry inside it, in the same batch', () => {
    const fs = new MemFs({ a: 'dir:A', 'a/b': 'file:B', 'a/k': 'file:K' });
    const d = emptyDecisions();
    d.renames.push({ from: 'a', to: 'c' }, { from: 'a/b', to: 'd' });
    const rs = fs.run(planBatch(d, 't'));
    allOk(rs);
    assert.deepEqual(fs.snapshot(), { c: 'dir:A', 'c/k': 'file:K', d: 'file:B' });
  });
});

// ---- concurrent application: independentWaves ---------------------------------------------------
describe('independentWaves', () => {
  it('groups ops on unrelated paths; a path, its ancestors and descendants split waves', () => {
    const ops: EntryOp[] = [
      { op: 'rename', from: 'a/x', to: '.p-0' },
      { op: 'rename', from: 'b/y', to: '.p-1' },
      { op: 'delete', path: 'a', type: 'dir' }, // ancestor of a/x: new wave
      { op: 'mkdir', path: 'c', mode: 0o755, uid: 0, gid: 0 },
      { op: 'mkdir', path: 'c/d', mode: 0o755, uid: 0, gid: 0 }, // below c: new wave
      { op: 'rename', from: '.p-0', to: 'c/d/x' }, // below c/d: new wave
      { op: 'rename', from: '.p-1', to: 'e' },
      { op: 'mark', path: '', xtime: { sec: 1, usec: 0 } }, // the root: above everything
    ];
    assert.deepEqual(independentWaves(ops), [[0, 1], [2, 3], [4], [5, 6], [7]]);
  });

  it('every wave holds ops on pairwise unrelated paths, in plan order (property)', () => {
    const opArb: fc.Arbitrary<EntryOp> = fc.oneof(
      fc.tuple(dirPathArb, dirPathArb).map(([from, to]) => ({ op: 'rename' as const, from, to })),
      dirPathArb.map((path) => ({ op: 'delete' as const, path, type: 'dir' as const })),
      dirPathArb.map((path) => ({ op: 'mark' as const, path, xtime: { sec: 1, usec: 0 } })),
    );
    fc.assert(fc.property(fc.array(opArb, { maxLength: 12 }), (ops) => {
      const waves = independentWaves(ops);
      assert.deepEqual(waves.flat(), ops.map((_, i) => i));
      for (const w of waves) {
        for (let i = 0; i < w.length; i++) {
          for (let j = i + 1; j < w.length; j++) {
            for (const p of opPaths(ops[w[i]!]!)) for (const q of opPaths(ops[w[j]!]!)) {
              assert.ok(!isWithin(p, q) && !isWithin(q, p), `${p} and ${q} in one wave`);
            }
          }
        }
      }
    }), { numRuns: 1000 });
  });

  it('running each wave in reverse order gives what running the plan in order gives (property)', () => {
    const existingDirs = ['', 'd0', 'd1', 'd0/e0'];
    const fileArb = fc.tuple(fc.constantFrom(...existingDirs), fc.constantFrom('f', 'g', 'h'));
    const targetArb = fc.tuple(fc.constantFrom(...existingDirs, 'n0', 'n0/m0'), fc.constantFrom('t', 'u', 'f', 'g'));
    const scen = fc.record({
      files: fc.uniqueArray(fileArb.map(([dd, n]) => joinRel(dd, n)), { minLength: 1, maxLength: 8 }),
      targets: fc.uniqueArray(targetArb.map(([dd, n]) => joinRel(dd, n)), { minLength: 8, maxLength: 8 }),
      nRenames: fc.nat(8),
      dels: fc.subarray(['d1', 'd0/e0', 'd0/f', 'g']),
      links: fc.array(fc.tuple(fc.constantFrom('d0/f', 'g', 'd1/h'), fc.constantFrom('n0/l', 'd0/l', 'l')), { maxLength: 3 }),
      tag: tagArb,
    });
    fc.assert(fc.property(scen, ({ files, targets, nRenames, dels, links, tag }) => {
      const init: Record<string, string> = {};
      for (const dd of existingDirs) if (dd) init[dd] = `dir:${dd}`;
      for (const f of files) init[f] = `file:${f}`;
      const d = emptyDecisions();
      d.renames.push(...files.slice(0, nRenames).map((from, i) => ({ from, to: targets[i]! })));
      d.deletes.push(...dels.map((p) => ({ path: p, type: 'dir' as const })));
      d.mkdirs.push({ path: 'n0', entry: dirEntry('n0') }, { path: 'n0/m0', entry: dirEntry('m0') });
      d.links.push(...links.map(([existing, path]) => ({ existing, path })));
      const plan = planBatch(d, tag);
      const inOrder = new MemFs(init);
      const seq = plan.before.map((o) => inOrder.apply(o));
      const waved = new MemFs(init);
      const par: OpResult[] = new Array(plan.before.length);
      for (const w of independentWaves(plan.before)) for (const i of [...w].reverse()) par[i] = waved.apply(plan.before[i]!);
      assert.deepEqual(waved.snapshot(), inOrder.snapshot());
      assert.deepEqual(par.map((r) => r.ok), seq.map((r) => r.ok));
    }), { numRuns: 1000 });
  });
});
