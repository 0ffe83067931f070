// The worker's end of the rsh bridge: a private UNIX socket; each connection names a command
// (only `rsync --server ...` and `tar --extract ...` are allowed) that runs on the slave host: in
// the session's RPC channel where the slave serves streams (streams.ts), else as an exec channel
// on the ssh2 connection (execOn).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BridgeFrame } from './rsh-bridge.js';
import { PERL_BRIDGE, perlCompiles } from './rsh-bridge-perl.js';
import type { SshConnection } from './ssh.js';
import type { RemoteCommand } from './streams.js';

/** Starts a command on the slave host. */
export type CommandOpener = (argv: string[]) => Promise<RemoteCommand>;

/** Commands as exec channels of the ssh2 connection (a slave without in-band streams). */
export function execOn(conn: () => SshConnection): CommandOpener {
  return async (argv) => {
    const channel = await conn().exec(argv.join(' '));
    let code = 255;
    channel.on('exit', (c: number | null) => { code = c ?? 255; });
    const exit = new Promise<number>((resolve) => channel.on('close', () => resolve(code)));
    return {
      write: (d) => channel.write(d),
      end: () => { channel.end(); },
      onDrain: (fn) => { channel.on('drain', fn); },
      onStdout: (fn) => { channel.on('data', (d: Buffer) => fn(d, () => {})); },
      onStderr: (fn) => { channel.stderr.on('data', (d: Buffer) => fn(d, () => {})); },
      exit,
    };
  };
}

export interface RshLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** One frame to the bridge: type (BridgeFrame), u32 length, payload. */
export function frame(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Whether this host's perl runs the bridge; learned by the first server started. */
let perlUsable: boolean | undefined;

export class RshServer {
  private constructor(
    private readonly server: net.Server,
    private readonly dir: string,
    readonly socketPath: string,
    /** The Perl bridge written into `dir`, or null: rsync then runs the Node one. */
    private readonly perlScript: string | null,
  ) {}

  static async start(open: CommandOpener, log: RshLog): Promise<RshServer> {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gsyncd-rsh-'));
    await fs.promises.chmod(dir, 0o700);
    const socketPath = path.join(dir, 's');
    // Half-open: a receiving tar's input ends (the bridge shuts down its writing side) before
    // the remote tar exits; the exit frame must still get back. rsync never ends its input first.
    const server = net.createServer({ allowHalfOpen: true }, (sock) => void handle(sock, open, log));
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(socketPath, resolve); });
    const script = path.join(dir, 'bridge.pl');
    await fs.promises.writeFile(script, PERL_BRIDGE, { mode: 0o400 });
    // The script never changes within a process: checked once, not at every (re)connect.
    perlUsable ??= perlCompiles(script);
    const perlScript = perlUsable ? script : null;
    if (!perlScript) log.debug({}, 'no usable perl here: rsync reaches the slave through the Node rsh bridge');
    return new RshServer(server, dir, socketPath, perlScript);
  }

  /** The `-e` value for rsync. */
  rshCommand(): string {
    if (this.perlScript) return `perl ${this.perlScript} ${this.socketPath}`;
    const bridge = fileURLToPath(new URL('./rsh-bridge.js', import.meta.url));
    const loader = bridge.endsWith('.ts') ? ' --import tsx' : '';
    return `${process.execPath}${loader} ${bridge} ${this.socketPath}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }
}

async function handle(sock: net.Socket, open: CommandOpener, log: RshLog): Promise<void> {
  let head = Buffer.alloc(0);
  const onHead = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const nl = head.indexOf(0x0a);
    if (nl < 0) return;
    sock.off('data', onHead);
    sock.pause();
    void start(nl);
  };
  const start = async (nl: number) => {
    const rest = head.subarray(nl + 1);
    let argv: string[];
    try {
      argv = (JSON.parse(head.subarray(0, nl).toString('utf8')) as { argv: string[] }).argv;
    } catch {
      sock.destroy();
      return;
    }
    if (!bridgeAllows(argv)) {
      log.warn({ argv0: argv[0] }, 'rsh bridge refused a command that is neither rsync --server nor tar --extract');
      sock.end(Buffer.concat([frame(BridgeFrame.stderr, Buffer.from('gsyncd: only rsync --server and tar --extract may use the session connection\n')), frame(BridgeFrame.exit, u32(12))]));
      return;
    }
    try {
      const command = await open(argv);
      // Data is acknowledged (the window reopened) once the socket took it.
      const relay = (type: number) => (d: Buffer, written: () => void) => { sock.write(frame(type, d), () => written()); };
      command.onStdout(relay(BridgeFrame.stdout));
      command.onStderr(relay(BridgeFrame.stderr));
      if (rest.length && !command.write(rest)) sock.pause();
      sock.on('data', (d: Buffer) => { if (!command.write(d)) sock.pause(); });
      command.onDrain(() => sock.resume());
      sock.on('end', () => command.end());
      // The local rsync went away: end its remote half's input (rsync then exits by itself).
      sock.on('error', () => command.end());
      void command.exit.then((code) => sock.end(frame(BridgeFrame.exit, u32(code))));
      sock.resume();
    } catch (err) {
      sock.end(Buffer.concat([frame(BridgeFrame.stderr, Buffer.from(`gsyncd: ${(err as Error).message}\n`)), frame(BridgeFrame.exit, u32(255))]));
    }
  };
  sock.on('data', onHead);
  sock.on('error', () => {});
}

/** What the bridge runs on the session connection: a receiving rsync, or a receiving tar (--sync-method tar). */
export function bridgeAllows(argv: readonly string[]): boolean {
  return (argv[0] === 'rsync' && argv[1] === '--server') || (argv[0] === 'tar' && argv[1] === '--extract');
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
