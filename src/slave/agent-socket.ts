// The agent's end of the session event socket: a UNIX socket the `gsyncd --slave` processes
// and the dispatcher write NDJSON events to (agent-events.ts), fed into an AgentCore with one
// source number per connection.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { gsyncdError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { parseEventLine, takeEventLines, type AgentCore } from './agent-core.js';
import { MAX_EVENT_LINE } from './agent-events.js';

export interface AgentSocket {
  readonly path: string;
  /** Stop listening, drop the session connections, remove the socket file. */
  close(): Promise<void>;
}

/**
 * Listen for events on a UNIX socket (mode 0666: sessions run as the login user). A stale socket
 * file is replaced; one another agent still answers on is an error.
 */
export async function listenAgentSocket(core: AgentCore, socketPath: string, log?: Logger): Promise<AgentSocket> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  const st = fs.lstatSync(socketPath, { throwIfNoEntry: false });
  if (st) {
    if (!st.isSocket()) throw gsyncdError('GSYNCD_ERR_CONFIG', `--agent-socket ${socketPath} exists and is not a socket`);
    const inUse = await new Promise<boolean>((resolve) => {
      const c = net.createConnection(socketPath, () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (inUse) throw gsyncdError('GSYNCD_ERR_CONFIG', `another slave agent is listening on ${socketPath}`);
    fs.rmSync(socketPath, { force: true });
  }
  let nextSource = 1;
  const open = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    const source = nextSource++;
    open.add(sock);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      const { lines, rest } = takeEventLines(buf + chunk);
      buf = rest;
      for (const line of lines) {
        const ev = parseEventLine(line);
        if (ev) {
          try { core.handle(ev, source); } catch (err) { log?.warn({ event: 'agent.event_failed', err }, 'session event failed'); }
        } else {
          core.dropped++;
          log?.debug({ event: 'agent.bad_event', length: line.length }, 'dropped an unknown or malformed session event');
        }
      }
      if (buf.length > MAX_EVENT_LINE) {
        log?.warn({ event: 'agent.bad_event' }, 'session event line too long: closing that connection');
        sock.destroy();
      }
    });
    sock.on('error', () => { /* a session going away */ });
    sock.on('close', () => { open.delete(sock); core.sourceClosed(source); });
  });
  server.maxConnections = 4096;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { server.off('error', reject); resolve(); });
  });
  fs.chmodSync(socketPath, 0o666);
  server.on('error', (err) => log?.error({ event: 'agent.socket_error', err }, 'event socket error'));
  return {
    path: socketPath,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of open) s.destroy();
      fs.rmSync(socketPath, { force: true });
    }),
  };
}