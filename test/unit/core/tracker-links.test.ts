import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkGroups, linkKey } from '../../../src/core/tracker-links.js';

describe('linkKey', () => {
  it('only regular files with several links have one', () => {
    assert.equal(linkKey({ type: 'file', nlink: 2, dev: 1n, ino: 5n }), '1:5');
    assert.equal(linkKey({ type: 'file', nlink: 1, dev: 1n, ino: 5n }), null);
    assert.equal(linkKey({ type: 'dir', nlink: 3, dev: 1n, ino: 5n }), null);
  });
});

describe('LinkGroups', () => {
  it('returns the other names of an object', () => {
    const g = new LinkGroups();
    assert.deepEqual(g.note('small.txt', '1:5'), []);
    assert.deepEqual(g.note('docs/hard', '1:5'), ['small.txt']);
    assert.deepEqual(g.others('small.txt'), ['docs/hard']);
    assert.deepEqual(g.others('unknown'), []);
    assert.equal(g.size, 2);
  });

  it('a name that became another object (or a single-link file) leaves its old group', () => {
    const g = new LinkGroups();
    g.note('a', '1:5');
    g.note('b', '1:5');
    g.note('a', '1:9');
    assert.deepEqual(g.others('b'), []);
    g.note('b', null);
    assert.equal(g.size, 1);
    g.remove('a');
    assert.equal(g.size, 0);
  });

  it('retainWithin forgets names under a directory that a crawl did not see again', () => {
    const g = new LinkGroups();
    g.note('d/x', '1:5');
    g.note('e/y', '1:5');
    g.note('d/z', '1:6');
    g.retainWithin('d', (p) => p === 'd/z');
    assert.deepEqual(g.others('e/y'), []);
    assert.deepEqual(g.others('d/z'), []);
    assert.equal(g.size, 2);
  });
});
