// rsync's remote shell (`rsync -e "node rsh-bridge.js SOCKET"`). rsync runs it as
// `rsh-bridge.js SOCKET [-l USER] HOST rsync --server ...`; instead of opening a second ssh
// connection it asks the worker (over a private UNIX socket) to exec the command on the session's
// existing ssh2 connection, then relays stdin/stdout/stderr and the exit status.
import net from 'node:net';

export const BridgeFrame = { stdout: 1, stderr: 2, exit: 3 } as const;

/** Command words rsync wants run remotely: drop `-l USER` options and the host. */
export function bridgeCommand(args: string[]): string[] {
  let i = 0;
  while (i < args.length && args[i]!.startsWith('-')) i += args[i] === '-l' || args[i] === '-p' ? 2 : 1;
  return args.slice(i + 1);
}

function main(): void {
  const [socketPath, ...rest] = process.argv.slice(2);
  if (!socketPath) {
    process.stderr.write('rsh-bridge: no socket given\n');
    process.exit(12);
  }
  const sock = net.connect(socketPath!);
  sock.on('error', (err) => {
    process.stderr.write(`rsh-bridge: cannot reach the gsyncd worker: ${err.message}\n`);
    process.exit(12);
  });
  sock.on('connect', () => {
    sock.write(JSON.stringify({ argv: bridgeCommand(rest) }) + '\n');
    process.stdin.pipe(sock, { end: false });
    process.stdin.on('end', () => sock.end());
  });
  let buf = Buffer.alloc(0);
  let exitCode = 255;
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      const type = buf[0];
      const payload = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      if (type === BridgeFrame.stdout) process.stdout.write(payload);
      else if (type === BridgeFrame.stderr) process.stderr.write(payload);
      else if (type === BridgeFrame.exit) exitCode = payload.readUInt32BE(0);
    }
  });
  sock.on('close', () => {
    process.stdout.end(() => process.exit(exitCode));
  });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
