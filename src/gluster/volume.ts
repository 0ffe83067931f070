// What glusterd says about a volume: `gluster volume info VOL --xml`, parsed just enough for
// gsyncd (id, bricks, type, status). The CLI is run without a shell; a volume on another host
// is asked through that host's glusterd (`--remote-host`).
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { gsyncdError } from '../core/errors.js';
import type { GlusterMountConfig } from './mount-options.js';

export interface VolumeInfo {
  readonly name: string;
  /** Volume UUID (`Volume ID`): names the marker's xtime key. */
  readonly uuid: string;
  /** Bricks as `HOST:/path`, in volume order. */
  readonly bricks: string[];
  /** `Distribute`, `Replicate`, `Distributed-Replicate`, `Disperse`... */
  readonly type: string;
  /** `Created`, `Started`, `Stopped`. */
  readonly status: string;
}

export interface VolumeInfoOptions {
  /** Directory holding the `gluster` binary (empty/undefined: PATH). */
  readonly glusterCommandDir?: string;
  /** Give up on the CLI after this long (default 60 s). */
  readonly timeoutSec?: number;
}

/** The `gluster` (or `glusterfs`) executable, from gluster-command-dir or PATH. */
export function glusterBinary(name: 'gluster' | 'glusterfs', commandDir?: string): string {
  return commandDir ? path.join(commandDir, name) : name;
}

/** True when `host` names this machine, so the local glusterd is asked without --remote-host. */
export function isLocalHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  const me = os.hostname().toLowerCase();
  return h === '' || h === 'localhost' || h === '127.0.0.1' || h === '::1' || h === me || h === me.split('.')[0];
}

export async function volumeInfo(host: string, volume: string, opts: VolumeInfoOptions = {}): Promise<VolumeInfo> {
  const bin = glusterBinary('gluster', opts.glusterCommandDir);
  const args = ['--mode=script', ...(isLocalHost(host) ? [] : [`--remote-host=${host}`]), 'volume', 'info', volume, '--xml'];
  const where = isLocalHost(host) ? 'the local glusterd' : `glusterd on ${host}`;
  let out: CliResult;
  try {
    out = await runCli(bin, args, (opts.timeoutSec ?? 60) * 1000);
  } catch (err) {
    throw gsyncdError('GSYNCD_ERR_MOUNT', `cannot run ${bin} to ask ${where} about volume ${volume}`, err);
  }
  if (out.timedOut) throw gsyncdError('GSYNCD_ERR_MOUNT', `${where} did not answer about volume ${volume} within ${opts.timeoutSec ?? 60} s`);
  const text = out.stdout;
  if (out.code !== 0 || !text.includes('<cliOutput>')) {
    const detail = (out.stderr.trim() || text.trim()).split('\n').slice(-3).join(' ');
    throw gsyncdError('GSYNCD_ERR_MOUNT', `${where} is not reachable (gluster exited ${out.code}${detail ? `: ${detail}` : ''})`);
  }
  return parseVolumeInfoXml(text, volume, where);
}

/**
 * Parse `gluster volume info VOL --xml`. Exported for unit tests. The volume's own `<name>` is
 * read after cutting out `<bricks>` and `<options>`, which hold `<name>` tags of their own.
 */
export function parseVolumeInfoXml(xml: string, volume: string, where = 'glusterd'): VolumeInfo {
  const opRet = tag(xml, 'opRet');
  if (opRet !== undefined && opRet !== '0') {
    const why = tag(xml, 'opErrstr') || `error ${tag(xml, 'opErrno') ?? opRet}`;
    throw gsyncdError('GSYNCD_ERR_MOUNT', `${where}: volume ${volume}: ${why}`);
  }
  const blocks = [...xml.matchAll(/<volume>([\s\S]*?)<\/volume>/g)].map((m) => m[1]!);
  const body = blocks.find((b) => tag(stripSections(b), 'name') === volume) ?? (blocks.length === 1 ? blocks[0] : undefined);
  if (body === undefined) throw gsyncdError('GSYNCD_ERR_MOUNT', `${where}: volume ${volume} does not exist`);
  const own = stripSections(body);
  const uuid = tag(own, 'id');
  if (!uuid || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) {
    throw gsyncdError('GSYNCD_ERR_MOUNT', `${where}: volume ${volume}: no valid volume id in gluster's answer`);
  }
  const bricksXml = /<bricks>([\s\S]*?)<\/bricks>/.exec(body)?.[1] ?? '';
  const bricks = [...bricksXml.matchAll(/<brick\b[^>]*>([\s\S]*?)<\/brick>/g)].map((m) => {
    const inner = m[1]!;
    return tag(inner, 'name') ?? unescapeXml(inner.split('<')[0]!.trim());
  });
  return {
    name: tag(own, 'name') ?? volume,
    uuid: uuid.toLowerCase(),
    bricks,
    type: tag(own, 'typeStr') ?? tag(own, 'type') ?? 'unknown',
    status: tag(own, 'statusStr') ?? tag(own, 'status') ?? 'unknown',
  };
}

function stripSections(volumeXml: string): string {
  return volumeXml.replace(/<(bricks|options|hotBricks|coldBricks)>[\s\S]*?<\/\1>/g, '');
}

/** Text of the first `<name>…</name>` (no attributes, no nesting); `<name/>` is ''. */
function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>|<${name}\\s*/>`).exec(xml);
  if (!m) return undefined;
  return unescapeXml((m[1] ?? '').trim());
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-f]+));/gi, (all, name: string, dec?: string, hex?: string) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' } as Record<string, string>)[name.toLowerCase()] ?? all;
  });
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run a command (no shell, stdin closed), collecting its output; killed after `timeoutMs`. */
export function runCli(cmd: string, args: readonly string[], timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = timeoutMs > 0 ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs) : undefined;
    let settled = false;
    let exitCode: number | null = null;
    const finish = () => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ code: exitCode, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    };
    child.on('error', (e) => { if (settled) return; settled = true; if (timer) clearTimeout(timer); reject(e); });
    // A daemonizing command (glusterfs) may leave its pipes to the daemon: after the exit, give
    // the pipes a moment to drain, then stop waiting for them.
    child.on('exit', (code) => { exitCode = code; setTimeout(finish, 200).unref(); });
    child.on('close', (code) => { exitCode ??= code; finish(); });
  });
}

/** Ask glusterd about the volume and refuse one that cannot be mounted. */
export async function startedVolumeInfo(c: GlusterMountConfig): Promise<VolumeInfo> {
  const info = await volumeInfo(c.host, c.volume, { glusterCommandDir: c.glusterCommandDir, timeoutSec: c.connectionTimeoutSec || undefined });
  if (info.status !== 'Started') {
    throw gsyncdError('GSYNCD_ERR_MOUNT', `volume ${c.host}::${c.volume} is not started (status: ${info.status})`);
  }
  return info;
}
