import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isGsyncdError } from '../../../src/core/errors.js';
import { encodeFrame, FrameDecoder, isFrameError, MAX_FRAME } from '../../../src/protocol/frame.js';

const header = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n, 0); return b; };
const raw = (payload: string | Buffer) => { const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'); return Buffer.concat([header(p.length), p]); };

/** Byte-string paths (latin1) as the RPC carries them. */
const byteString = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString('latin1'));
const jsonObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.jsonValue({ maxDepth: 2 }), byteString), { maxKeys: 6 })
  .map((o) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>);

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) { out.push(buf.subarray(prev, p)); prev = p; }
  out.push(buf.subarray(prev));
  return out;
}

describe('frames', () => {
  it('encodes a u32 big-endian length and UTF-8 JSON', () => {
    const f = encodeFrame({ a: 'é' });
    assert.equal(f.readUInt32BE(0), f.length - 4);
    assert.equal(f.subarray(4).toString('utf8'), '{"a":"é"}');
    assert.deepEqual(new FrameDecoder().push(f), [{ a: 'é' }]);
  });

  it('round-trips latin1 byte-string paths exactly', () => {
    const p = Buffer.from([0x66, 0xff, 0x80, 0x00, 0x2f, 0xc3]).toString('latin1');
    const [obj] = new FrameDecoder().push(encodeFrame({ p })) as [{ p: string }];
    assert.equal(obj.p, p);
  });

  it('refuses oversized, bad JSON and non-object frames with GSYNCD_ERR_RPC and a reason', () => {
    const cases: [Buffer, string, number?][] = [
      [header(MAX_FRAME + 1), 'oversized'],
      [raw('{"a":1}'), 'oversized', 3],
      [raw('{nope'), 'bad_json'],
      [raw(''), 'bad_json'],
      [raw(Buffer.from([0x7b, 0xff, 0x7d])), 'bad_json'],
      [raw('[1,2]'), 'not_object'],
      [raw('null'), 'not_object'],
      [raw('"s"'), 'not_object'],
      [raw('42'), 'not_object'],
    ];
    for (const [bytes, reason, max] of cases) {
      const d = new FrameDecoder(max === undefined ? {} : { maxFrame: max });
      assert.throws(() => d.push(bytes), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC') && isFrameError(err) && err.reason === reason, reason);
      // Once broken, always broken.
      assert.throws(() => d.push(encodeFrame({ ok: 1 })), (err: unknown) => isFrameError(err));
    }
  });

  it('refuses an oversized frame as soon as its header is in (before buffering it)', () => {
    const d = new FrameDecoder({ maxFrame: 1024 });
    assert.throws(() => d.push(header(1025)), (err: unknown) => isFrameError(err) && err.reason === 'oversized');
  });

  it('encodeFrame refuses what the peer would refuse', () => {
    assert.throws(() => encodeFrame({ s: 'x'.repeat(100) }, 50), (err: unknown) => isFrameError(err) && err.reason === 'oversized');
    assert.throws(() => encodeFrame([] as unknown as object), (err: unknown) => isFrameError(err) && err.reason === 'not_object');
  });

  it('fuzz: arbitrary byte chunks never fail with anything but the frame error', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), fc.boolean(), (chunks, smallMax) => {
      const d = new FrameDecoder(smallMax ? { maxFrame: 32 } : {});
      try {
        for (const c of chunks) {
          for (const obj of d.push(Buffer.from(c))) assert.ok(typeof obj === 'object' && obj !== null && !Array.isArray(obj));
        }
      } catch (err) {
        assert.ok(isFrameError(err), `unexpected ${String(err)}`);
      }
    }), { numRuns: 10_000 });
  });

  it('fuzz: frames with a plausible header and random payloads fail only with the frame error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 48 }), fc.array(fc.nat(60)), (payload, cuts) => {
      const d = new FrameDecoder();
      try {
        for (const c of splitAt(raw(Buffer.from(payload)), cuts)) d.push(c);
      } catch (err) {
        assert.ok(isFrameError(err));
      }
    }), { numRuns: 10_000 });
  });

  it('fuzz: valid frames decode identically however they are split or joined', () => {
    fc.assert(fc.property(fc.array(jsonObject, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(2000), { maxLength: 12 }), (objs, cuts) => {
      const stream = Buffer.concat(objs.map((o) => encodeFrame(o)));
      const d = new FrameDecoder();
      const got: object[] = [];
      for (const c of splitAt(stream, cuts)) got.push(...d.push(c));
      assert.deepEqual(got, objs);
      assert.equal(d.buffered, 0);
      // Byte by byte too.
      const d2 = new FrameDecoder();
      const got2: object[] = [];
      for (let i = 0; i < stream.length; i++) got2.push(...d2.push(stream.subarray(i, i + 1)));
      assert.deepEqual(got2, objs);
    }), { numRuns: 10_000 });
  });
});
