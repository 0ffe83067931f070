// What a session's in-band streams may run: the dispatcher's rsync and tar rules with the
// session's root as the only writable area, tar only when the dispatcher allowed it, words
// unescaped as a remote shell would.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideStream, streamEnvOf, streamPolicy } from '../../../src/slave/stream-policy.js';
import { memProbe } from './mem-probe.js';

const probe = memProbe(['/data', '/data/my dir', '/outside'], { '/data/escape': '/outside' });
const outcome = (argv: string[], env: Record<string, string> = {}) => {
  const d = decideStream(argv, streamPolicy('/data', env), probe);
  return 'refusal' in d ? d.refusal : d.argv.join(' ');
};

describe('in-band stream policy', () => {
  it('rsync --server into the root only', () => {
    assert.equal(outcome(['rsync', '--server', '-logDtpRe.iLsfxCIvu', '.', '/data/']), 'rsync --server -logDtpRe.iLsfxCIvu . /data/');
    assert.equal(outcome(['rsync', '--server', '-r', '.', '/outside/']), 'absolute_path');
    assert.equal(outcome(['rsync', '--server', '-r', '.', '/data/escape/x']), 'path_escape');
    assert.equal(outcome(['rsync', '--server', '--sender', '-r', '.', '/data/']), 'forbidden_command');
    assert.equal(outcome(['sh', '-c', 'id']), 'forbidden_command');
    assert.equal(outcome(['gsyncd', '--slave', '/data']), 'forbidden_command', 'no second slave from inside a session');
  });

  it('unescapes the words as the remote shell would have', () => {
    assert.equal(outcome(['rsync', '--server', '-r', '.', '/data/my\\ dir/']), 'rsync --server -r . /data/my dir/');
  });

  it('tar only where the dispatcher said --allow-tar, and with the rsync it names', () => {
    const tar = ['tar', '--extract', '--file=-', '--directory=/data', '--numeric-owner'];
    assert.equal(outcome(tar), 'forbidden_command');
    assert.equal(outcome(tar, streamEnvOf({ root: '/x', allowVolumes: [], gsyncdArgv: [], rsyncPath: '/opt/rsync', allowTar: true, tarPath: '/bin/tar' })),
      '/bin/tar --extract --file=- --directory=/data --numeric-owner');
    assert.equal(outcome(['rsync', '--server', '-r', '.', '/data/'], streamEnvOf({ root: '/x', allowVolumes: [], gsyncdArgv: [], rsyncPath: '/opt/rsync' })),
      '/opt/rsync --server -r . /data/');
    assert.equal(outcome(tar, streamEnvOf({ root: '/x', allowVolumes: [], gsyncdArgv: [], rsyncPath: 'rsync' })), 'forbidden_command');
  });
});
