import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyRsyncExit, failedPathsOf, vanishedPathsOf } from '../../../src/transport/rsync.js';

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

describe('failedPathsOf', () => {
  const roots = ['/mnt/aux', '/srv/slave/'];
  const paths = ['x/b/f2', 'x/b/f3', 'y/c/f1', 'x/b', 'y', '.'];
  it('pins receiver and sender errors (absolute, relative, temp names) to the paths of the run', () => {
    const stderr = [
      '{"level":30,"msg":"dispatching"}',
      'rsync: [receiver] mkstemp "/srv/slave/x/b/.f2.T0yLTD" failed: Operation not permitted (1)',
      'rsync: [generator] failed to set times on "/srv/slave/x/b": Operation not permitted (1)',
      SUMMARY,
    ].join('\n');
    assert.deepEqual([...failedPathsOf(stderr, paths, roots)!].sort(), ['x/b', 'x/b/f2', 'x/b/f3']);
    const sender = ['rsync: [sender] send_files failed to open "/mnt/aux/y/c/f1": Permission denied (13)', SUMMARY].join('\n');
    assert.deepEqual([...failedPathsOf(sender, paths, roots)!], ['y/c/f1']);
    const dir = ['rsync: [receiver] recv_generator: mkdir "/srv/slave/x" failed: Permission denied (13)', SUMMARY].join('\n');
    assert.deepEqual([...failedPathsOf(dir, paths, roots)!].sort(), ['x/b', 'x/b/f2', 'x/b/f3'], 'a directory stands for the paths below it');
    const inside = ['rsync: [receiver] rename "/srv/slave/y/.zz.Ab12Cd" -> "y/zz": Permission denied (13)', SUMMARY].join('\n');
    assert.equal(failedPathsOf(inside, paths, roots), null, 'a file that is no path of the run: the whole run failed');
    const root = ['rsync: [generator] failed to set times on "/srv/slave/.": Operation not permitted (1)', SUMMARY].join('\n');
    assert.ok(failedPathsOf(root, paths, roots)!.has('.'));
  });

  it('gives up (null: the whole run failed) when an error names no path of the run or rsync failed as a whole', () => {
    assert.equal(failedPathsOf(['rsync: [receiver] write failed on "/elsewhere/z": No space left on device (28)', SUMMARY].join('\n'), paths, roots), null);
    assert.equal(failedPathsOf(['rsync: connection unexpectedly closed (0 bytes received so far) [sender]', 'rsync error: error in rsync protocol data stream (code 12) at io.c(231) [sender=3.2.7]'].join('\n'), paths, roots), null);
    assert.equal(failedPathsOf(SUMMARY, paths, roots), null);
    assert.equal(failedPathsOf('', paths, roots), null);
  });
  it('vanishedPathsOf: null when nothing is named (every path of the run counts as vanished)', () => {
    assert.equal(vanishedPathsOf('rsync warning: some files vanished before they could be transferred (code 24)', ['a'], ['/m']), null);
  });
});

describe('vanishedPathsOf', () => {
  const roots = ['/tmp/gsyncd-aux-mount-QC'];
  const paths = ['dh/D9r/dcq/f1', 'dh/D9r/dcq/Dhp/f7w', 'dh/D9r/other/f2', 'd5/d1g/f3'];
  it('pins vanished files, and directories named by sender-side ENOENT (quoted or in an ACL call)', () => {
    const stderr = [
      'rsync: [sender] get_xattr_names: llistxattr("/tmp/gsyncd-aux-mount-QC/dh/D9r/dcq",1024) failed: No such file or directory (2)',
      'file has vanished: "/tmp/gsyncd-aux-mount-QC/dh/D9r/dcq/f1"',
      'rsync: [sender] get_acl: sys_acl_get_file(d5/d1g, ACL_TYPE_ACCESS): No such file or directory (2)',
      'rsync warning: some files vanished before they could be transferred (code 24) at main.c(1330) [sender=3.2.7]',
    ].join('\n');
    assert.deepEqual([...vanishedPathsOf(stderr, paths, roots)!].sort(), ['d5/d1g/f3', 'dh/D9r/dcq/Dhp/f7w', 'dh/D9r/dcq/f1']);
  });
  it('null (all of the run) when a line names nothing of the run or is another error', () => {
    assert.equal(vanishedPathsOf('file has vanished: "/elsewhere/x"', paths, roots), null);
    assert.equal(vanishedPathsOf('rsync: [receiver] write failed on "/s/x": No space left on device (28)', paths, roots), null);
  });
});
