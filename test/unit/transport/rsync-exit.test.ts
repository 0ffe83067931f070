import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyRsyncExit } from '../../../src/transport/rsync.js';

const SUMMARY = 'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]';

describe('classifyRsyncExit', () => {
  it('maps the plain exit codes', () => {
    assert.equal(classifyRsyncExit(0), 'ok');
    assert.equal(classifyRsyncExit(24), 'vanished');
    assert.equal(classifyRsyncExit(23), 'partial');
    assert.equal(classifyRsyncExit(12), 'error');
    assert.equal(classifyRsyncExit(null), 'error');
  });

  it('treats 23 as a vanish when every error is a sender-side ENOENT (seen under churn)', () => {
    const stderr = [
      '{"level":30,"msg":"dispatching"}',
      'rsync: [sender] get_acl: sys_acl_get_file(D3l/Daz/Db3/D86/D9e, ACL_TYPE_ACCESS): No such file or directory (2)',
      'file has vanished: "/tmp/gsyncd-aux-mount-e1uWgZ/D3l/Daz/Db3/D86/D9e/D9b"',
      'rsync: [sender] get_xattr_names: llistxattr("/tmp/m/D3l/d62",1024) failed: No such file or directory (2)',
      SUMMARY,
    ].join('\n');
    assert.equal(classifyRsyncExit(23, stderr), 'vanished');
  });

  it('keeps 23 a failure when the receiver failed, another errno appears, or the summary is missing', () => {
    const receiver = ['rsync: [receiver] mkstemp "/s/a/.f.XXXX" failed: No such file or directory (2)', SUMMARY].join('\n');
    assert.equal(classifyRsyncExit(23, receiver), 'partial');
    const mixed = [
      'rsync: [sender] get_acl: sys_acl_get_file(a, ACL_TYPE_ACCESS): No such file or directory (2)',
      'rsync: [sender] send_files failed to open "/m/b": Permission denied (13)',
      SUMMARY,
    ].join('\n');
    assert.equal(classifyRsyncExit(23, mixed), 'partial');
    const cut = 'rsync: [sender] get_acl: sys_acl_get_file(a, ACL_TYPE_ACCESS): No such file or directory (2)';
    assert.equal(classifyRsyncExit(23, cut), 'partial');
    assert.equal(classifyRsyncExit(23, SUMMARY), 'partial');
  });
});
