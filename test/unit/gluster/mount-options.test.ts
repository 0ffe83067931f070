// The glusterfs command lines of the three kinds of master mount: uncached (the crawl), read
// mount (rsync's data), fresh-listing mount. Cache bounds are forced over gluster-params.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freshListingSettleMs, glusterfsArgs, readMountSettleMs } from '../../../src/gluster/mount-options.js';

const base = { host: 'h', volume: 'v', timeoutSec: 1 };
const params = 'entry-timeout=600 attribute-timeout=600 negative-timeout=5 xlator-option=*-md-cache.md-cache-timeout=600 log-level=WARNING';

describe('gluster mount arguments', () => {
  it('uncached by default; gluster-params may change the defaults there', () => {
    const plain = glusterfsArgs(base);
    for (const a of ['--entry-timeout=0', '--attribute-timeout=0', '--negative-timeout=0', '--xlator-option=*-md-cache.md-cache-timeout=0']) assert.ok(plain.includes(a), a);
  });

  it('a fresh-listing mount keeps only kernel entries and attributes, for a fraction of a second, whatever the params say', () => {
    const args = glusterfsArgs({ ...base, listCacheSec: 0.1, params });
    for (const a of ['--entry-timeout=0.1', '--attribute-timeout=0.1', '--negative-timeout=0', '--xlator-option=*-md-cache.md-cache-timeout=0', '--xlator-option=*-dht.assert-no-child-down=true', '--acl']) assert.ok(args.includes(a), `${a} in ${args.join(' ')}`);
    assert.ok(!args.some((a) => /=600$|negative-timeout=5/.test(a)), `nothing lengthens the caches: ${args.join(' ')}`);
    assert.ok(args.includes('--log-level=WARNING'), 'other parameters pass');
  });

  it('settles: a fresh listing waits its cache time and a margin; the read mount a second more for the xlators', () => {
    assert.equal(freshListingSettleMs(0.1), 150);
    assert.equal(readMountSettleMs(1), 2500);
    assert.ok(freshListingSettleMs(0.25) > 250);
  });
});
