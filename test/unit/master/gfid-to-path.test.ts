import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGfidToPath } from '../../../src/master/gluster-source.js';

test('glusterfs.gfidtopath values: every name, relative, names with ":" kept whole', () => {
  assert.deepEqual(parseGfidToPath(Buffer.from('/d2/dct/f9e:/D8n/hcz:/h9w')), ['d2/dct/f9e', 'D8n/hcz', 'h9w']);
  assert.deepEqual(parseGfidToPath(Buffer.from('/a:b/c:d:/e\0')), ['a:b/c:d', 'e'], 'a ":" not followed by "/" belongs to the name; trailing NUL dropped');
  assert.deepEqual(parseGfidToPath(Buffer.from([0x2f, 0x78, 0xff, 0x3a, 0x2f, 0x79])), ['x\xff', 'y'], 'bytes, not text');
  assert.deepEqual(parseGfidToPath(Buffer.from('')), []);
  assert.deepEqual(parseGfidToPath(Buffer.from('/.gfid/abc:/ok')), ['ok'], 'never the virtual .gfid directory');
});
