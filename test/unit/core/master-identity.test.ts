import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { masterIdentityVerdict, type MasterIdentity } from '../../../src/core/master-identity.js';

const m = (more: Partial<MasterIdentity>): MasterIdentity => ({ now: 'AAA', everSynced: true, acceptReplaced: false, gluster: true, ...more });

describe('masterIdentityVerdict', () => {
  it('refuses a master other than --volume-id (case does not matter)', () => {
    assert.equal(masterIdentityVerdict(m({ expected: 'bbb' })).kind, 'refuse');
    assert.equal(masterIdentityVerdict(m({ expected: 'aaa', known: 'AAA' })).kind, 'same');
  });
  it('refuses a re-created GlusterFS volume of a synced session, unless confirmed', () => {
    const v = masterIdentityVerdict(m({ known: 'OLD' }));
    assert.equal(v.kind, 'refuse');
    assert.match(v.kind === 'refuse' ? v.why : '', /synced OLD/);
    assert.deepEqual(masterIdentityVerdict(m({ known: 'OLD', acceptReplaced: true })), { kind: 'adopt', was: 'OLD' });
  });
  it('adopts a new id when never synced, or for a directory master', () => {
    assert.deepEqual(masterIdentityVerdict(m({ known: 'OLD', everSynced: false })), { kind: 'adopt', was: 'OLD' });
    assert.deepEqual(masterIdentityVerdict(m({ known: 'OLD', gluster: false })), { kind: 'adopt', was: 'OLD' });
    assert.deepEqual(masterIdentityVerdict(m({})), { kind: 'adopt', was: undefined });
  });
});
