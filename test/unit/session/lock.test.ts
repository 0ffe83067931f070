// The per-session worker lock: one holder at a time, stale locks (dead holder, reused pid) taken over.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isGsyncdError } from '../../../src/core/errors.js';
import { acquireSessionLock, processStartTime } from '../../../src/session/lock.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-lock-'));
}

/** A pid that existed and is gone now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('session lock', () => {
  it('is taken, names its holder, and is released', () => {
    const dir = tmp();
    const lock = acquireSessionLock(dir);
    const [pid, start] = fs.readFileSync(lock.file, 'utf8').trim().split(' ');
    assert.equal(Number(pid), process.pid);
    assert.equal(start, processStartTime(process.pid));
    assert.notEqual(start, '');
    lock.release();
    assert.ok(!fs.existsSync(lock.file));
    assert.deepEqual(fs.readdirSync(dir), [], 'no temp file is left behind');
  });

  it('refuses while a live process holds it', () => {
    const dir = tmp();
    const holder = process.ppid; // alive, not us
    fs.writeFileSync(path.join(dir, 'worker.lock'), `${holder} ${processStartTime(holder)}\n`);
    assert.throws(() => acquireSessionLock(dir), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_SESSION_BUSY') && (err as Error).message.includes(`pid ${holder}`));
    assert.equal(fs.readFileSync(path.join(dir, 'worker.lock'), 'utf8').split(' ')[0], String(holder), 'the holder keeps its lock');
  });

  it('takes over a lock whose holder died', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'worker.lock'), `${deadPid()} 12345\n`);
    const lock = acquireSessionLock(dir);
    assert.equal(Number(fs.readFileSync(lock.file, 'utf8').split(' ')[0]), process.pid);
    lock.release();
  });

  it('takes over a lock whose pid now belongs to another process (reused pid)', () => {
    const dir = tmp();
    const other = process.ppid;
    fs.writeFileSync(path.join(dir, 'worker.lock'), `${other} ${Number(processStartTime(other)) + 1}\n`);
    const lock = acquireSessionLock(dir);
    lock.release();
  });

  it('takes over an unreadable lock file, and release leaves a lock taken over by another alone', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'worker.lock'), 'garbage');
    const lock = acquireSessionLock(dir);
    fs.writeFileSync(lock.file, `${process.ppid} ${processStartTime(process.ppid)}\n`);
    lock.release();
    assert.ok(fs.existsSync(lock.file), 'not ours any more: kept');
  });
});
