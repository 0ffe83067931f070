// The bench's shared-once memory figure: pages two processes share (the same binary's text, a
// shared anonymous mapping) are counted once for the group, private pages once per process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { residentOnceKb, rssKb } from '../../../bench/measure.js';

const children: ChildProcess[] = [];
after(() => { for (const c of children) c.kill('SIGKILL'); });

/** A perl process that has touched `mb` MiB of private memory, then waits. */
async function holder(mb: number): Promise<number> {
  const c = spawn('perl', ['-e', `my $x = "a" x (${mb} * 1048576); $| = 1; print "ready\\n"; sleep 600;`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  const [chunk] = (await once(c.stdout!, 'data')) as [Buffer];
  assert.match(chunk.toString(), /ready/);
  return c.pid!;
}

describe('residentOnceKb', { skip: process.getuid?.() !== 0 ? 'page frame numbers are visible to root only' : false }, () => {
  it('counts one process like its RSS, and shared pages of two once', async () => {
    const a = await holder(20);
    const b = await holder(20);
    const alone = residentOnceKb([a]);
    // One process: every resident page once (a page mapped twice in it, rarely, once).
    assert.ok(alone > 20 * 1024 && alone <= rssKb(a), `alone ${alone} KiB, RSS ${rssKb(a)} KiB`);
    const both = residentOnceKb([a, b]);
    const sum = rssKb(a) + rssKb(b);
    // Private 20 MiB each, counted for both...
    assert.ok(both > 40 * 1024, `both ${both} KiB`);
    // ...but the perl binary and libc pages they share only once.
    assert.ok(both < sum - 512, `both ${both} KiB, summed RSS ${sum} KiB`);
    // Naming a process twice changes nothing; a gone process counts nothing.
    const twice = residentOnceKb([a, a]);
    assert.ok(Math.abs(twice - residentOnceKb([a])) < 256, `twice ${twice} KiB, alone ${alone} KiB`);
    assert.equal(residentOnceKb([0x7ffffff0]), 0);
  });
});
