// Both rsh bridges (Perl and Node) as real processes against a UNIX socket that speaks the
// worker's side of the protocol (src/transport/rsh-server.ts): the command words after rsync's
// ssh options and host, stdin relayed in full, stdout/stderr frames, the exit status; and the
// real server side (RshServer) over a fake ssh connection.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ClientChannel } from 'ssh2';
import { PERL_BRIDGE, perlCompiles } from '../../../src/transport/rsh-bridge-perl.js';
import { execOn, frame, RshServer } from '../../../src/transport/rsh-server.js';
import type { SshConnection } from '../../../src/transport/ssh.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-rshb-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fake worker: echoes stdin back as stdout frames as it comes, then stderr and exit 7. */
async function fakeWorker(socketPath: string): Promise<{ argv: Promise<string[]>; received: Promise<Buffer>; close(): void }> {
  let gotArgv!: (a: string[]) => void;
  let gotAll!: (b: Buffer) => void;
  const argv = new Promise<string[]>((r) => { gotArgv = r; });
  const received = new Promise<Buffer>((r) => { gotAll = r; });
  const server = net.createServer((sock) => {
    let head = Buffer.alloc(0);
    let headDone = false;
    const body: Buffer[] = [];
    sock.on('data', (chunk: Buffer) => {
      if (!headDone) {
        head = Buffer.concat([head, chunk]);
        const nl = head.indexOf(0x0a);
        if (nl < 0) return;
        headDone = true;
        gotArgv((JSON.parse(head.subarray(0, nl).toString('utf8')) as { argv: string[] }).argv);
        chunk = head.subarray(nl + 1);
        if (chunk.length === 0) return;
      }
      body.push(chunk);
      sock.write(frame(1, chunk));
    });
    sock.on('end', () => {
      gotAll(Buffer.concat(body));
      const code = Buffer.alloc(4);
      code.writeUInt32BE(7);
      sock.end(Buffer.concat([frame(2, Buffer.from('remote says hello\n')), frame(3, code)]));
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return { argv, received, close: () => server.close() };
}

function run(cmd: string, args: string[], input: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(input);
  });
}

function writePerlBridge(): string {
  const script = path.join(tmp, 'bridge.pl');
  fs.writeFileSync(script, PERL_BRIDGE);
  return script;
}

const nodeBridge = fileURLToPath(new URL('../../../src/transport/rsh-bridge.ts', import.meta.url));
const bridges: { name: string; command: () => [string, string[]] }[] = [
  { name: 'perl', command: () => ['perl', [writePerlBridge()]] },
  { name: 'node', command: () => [process.execPath, ['--import', 'tsx', nodeBridge]] },
];

// Perl is Essential in Debian: a bridge that does not compile is a failure here, not a skip
// (the worker would silently fall back to the Node bridge).
it('perl compiles the bridge (what the worker checks before it uses it)', () => {
  assert.equal(perlCompiles(writePerlBridge()), true);
});

for (const bridge of bridges) {
  describe(`rsh bridge (${bridge.name})`, () => {
    it('runs the command words, relays stdin and both outputs, and exits with the remote status', { timeout: 30_000 }, async () => {
      const sock = path.join(tmp, `${bridge.name}.s`);
      const worker = await fakeWorker(sock);
      try {
        const input = crypto.randomBytes(3 * 1024 * 1024 + 17);
        const [cmd, args] = bridge.command();
        const res = await run(cmd, [...args, sock, '-l', 'root', '-p', '2222', 'slave.example', 'rsync', '--server', 'a "quoted"\\ word', 'tab\there', '.'], input);
        assert.equal(res.stderr, 'remote says hello\n');
        assert.deepEqual(await worker.argv, ['rsync', '--server', 'a "quoted"\\ word', 'tab\there', '.']);
        assert.ok((await worker.received).equals(input), 'the worker received stdin byte for byte');
        assert.ok(res.stdout.equals(input), 'stdout frames reached stdout byte for byte');
        assert.equal(res.code, 7);
      } finally {
        worker.close();
      }
    });

    it('exits 12 with a clear message when the worker is not there', { timeout: 30_000 }, async () => {
      const [cmd, args] = bridge.command();
      const res = await run(cmd, [...args, path.join(tmp, 'nobody-listens'), 'host', 'rsync', '--server'], Buffer.alloc(0));
      assert.equal(res.code, 12);
      assert.match(res.stderr, /cannot reach the gsyncd worker/);
    });
  });
}

/** A fake ssh2 connection whose remote command reads all of stdin, then (later) exits 5. */
function fakeConnection(commands: string[]): SshConnection {
  return {
    exec: async (command: string) => {
      commands.push(command);
      const channel = Object.assign(new PassThrough({ emitClose: false }), { stderr: new PassThrough(), close() { channel.destroy(); } });
      let bytes = 0;
      channel.on('data', (d: Buffer) => { bytes += d.length; });
      channel.on('finish', () => setTimeout(() => {
        channel.stderr.end(`read ${bytes}\n`);
        channel.stderr.on('end', () => { channel.emit('exit', 5); channel.emit('close'); });
        channel.stderr.resume();
      }, 200));
      // What the channel "reads" is consumed above; nothing goes back as stdout.
      channel.resume();
      return channel as unknown as ClientChannel;
    },
  } as unknown as SshConnection;
}

describe('rsh bridge server (the worker side)', () => {
  it('relays a remote exit status that comes after the input ended (a receiving tar), and refuses other commands', { timeout: 30_000 }, async () => {
    const commands: string[] = [];
    const server = await RshServer.start(execOn(() => fakeConnection(commands)), { warn: () => {}, debug: () => {} });
    try {
      const [cmd, ...pre] = server.rshCommand().split(' ');
      const input = crypto.randomBytes(200_000);
      const res = await run(cmd!, [...pre, 'slave.example', 'tar', '--extract', '--file=-'], input);
      assert.deepEqual(commands, ['tar --extract --file=-']);
      assert.equal(res.stderr, `read ${input.length}\n`);
      assert.equal(res.code, 5);
      const refused = await run(cmd!, [...pre, 'slave.example', 'sh', '-c', 'id'], Buffer.alloc(0));
      assert.equal(refused.code, 12);
      assert.match(refused.stderr, /only rsync --server and tar --extract/);
    } finally {
      await server.close();
    }
  });
});
