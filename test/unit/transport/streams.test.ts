// In-band streams: a real child process (cat, sh) on the "slave" side of an RpcServer, driven
// from an RpcClient through PassThrough pipes. Bytes must arrive intact in both directions past
// the credit window, the exit status must follow all output, and frames for streams nobody
// opened must end the session.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { encodeDataFrames } from '../../../src/protocol/frame.js';
import { RpcClient, RpcServer } from '../../../src/transport/rpc.js';
import { STREAM_WINDOW, StreamClient, StreamHost, StreamKind, type RemoteCommand, type StreamDecision } from '../../../src/transport/streams.js';

function session(decide: (argv: string[]) => StreamDecision) {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  let server: RpcServer | undefined;
  const host = new StreamHost({ send: (b) => server?.sendRaw(b), decide });
  server = new RpcServer(toServer, toClient, { run: (p) => host.run(p) }, { immediate: ['run'], onDataFrame: (f) => host.receive(f) });
  let streams: StreamClient | undefined;
  const client = new RpcClient(toClient, toServer, { onDataFrame: (f) => streams?.receive(f) ?? false });
  streams = new StreamClient({ send: (b) => client.sendRaw(b), run: (p) => client.call('run', p, { timeoutMs: 0 }) });
  return { client, server, host, streams, toServer };
}

/** Feed `input` honouring backpressure; collect stdout and stderr; resolve with them and the status. */
async function drive(cmd: RemoteCommand, input: Buffer, slowReader = false) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  cmd.onStdout((d, written) => { out.push(d); if (slowReader) setTimeout(written, 1); else written(); });
  cmd.onStderr((d, written) => { err.push(d); written(); });
  let waits = 0;
  let off = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (off < input.length) {
        const part = input.subarray(off, off + 100_000);
        off += part.length;
        if (!cmd.write(part)) { waits++; return; }
      }
      cmd.end();
      resolve();
    };
    cmd.onDrain(pump);
    pump();
  });
  const code = await cmd.exit;
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), waits };
}

describe('in-band streams', () => {
  it('carries stdin and stdout intact past the window both ways, and the exit status after all output', { timeout: 60_000 }, async () => {
    const s = session((argv) => ({ argv }));
    const input = crypto.randomBytes(3 * STREAM_WINDOW + 12_345);
    const r = await drive(s.streams.open(['cat']), input, true);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.equals(input), `stdout is stdin byte for byte (${r.stdout.length} of ${input.length})`);
    assert.ok(r.waits > 0, 'the writer had to wait for credit');
    const failing = await drive(s.streams.open(['sh', '-c', 'cat >/dev/null; echo done >&2; exit 7']), crypto.randomBytes(1000));
    assert.equal(failing.code, 7);
    assert.equal(failing.stderr, 'done\n');
    assert.equal(s.host.running, 0);
    s.client.close();
    assert.equal((await s.server.closed).kind, 'eof');
  });

  it('a refusal reaches the caller as stderr and status 12; nothing runs', async () => {
    const s = session((argv) => (argv[0] === 'cat' ? { argv } : { refusal: 'forbidden_command', message: `${argv[0]} is not allowed` }));
    const r = await drive(s.streams.open(['sh', '-c', 'touch /tmp/never']), Buffer.from('x'));
    assert.equal(r.code, 12);
    assert.match(r.stderr, /refused: sh is not allowed/);
    assert.equal(s.host.running, 0);
    s.client.close();
  });

  it('kills what runs when the session ends', { timeout: 30_000 }, async () => {
    const s = session((argv) => ({ argv }));
    const cmd = s.streams.open(['sleep', '30']);
    cmd.onStdout((_d, w) => w());
    cmd.onStderr((_d, w) => w());
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(s.host.running, 1);
    s.server.close();
    s.host.closeAll();
    assert.equal(await cmd.exit, 255, 'the caller sees a lost command');
  });

  it('a data frame for a stream never opened is a protocol violation', async () => {
    const s = session((argv) => ({ argv }));
    for (const b of encodeDataFrames(99, StreamKind.in, Buffer.from('junk'))) s.toServer.write(b);
    assert.equal((await s.server.closed).kind, 'protocol_violation');
  });

  it('refuses a stream id that does not increase, and argv that is not a list of words', async () => {
    const host = new StreamHost({ send: () => {}, decide: (argv) => ({ argv }) });
    await assert.rejects(host.run({ stream: 0, argv: ['true'] }), /new stream id/);
    await assert.rejects(host.run({ stream: 1, argv: 'true' }), /list of words/);
    await assert.rejects(host.run({ stream: 1, argv: ['true'] }), /new stream id/, 'id 1 was used by the refused call');
    assert.deepEqual(await host.run({ stream: 2, argv: ['true'] }), { code: 0 });
  });
});
