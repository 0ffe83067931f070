#!/usr/bin/env node
// gsyncd-healthcheck [URL]: the images' HEALTHCHECK. GET URL (default: /healthz on the port of
// GSYNCD_HTTP_BIND, on loopback) and exit 0 on a 2xx answer within 2 s, else 1 with one line on
// stderr. The images have no curl; this stands in for `gsyncd healthcheck URL`
// (OBSERVABILITY.md §7) until the CLI has that command, and needs nothing but node.
//
// Slave containers whose entrypoint fell back to running sshd without the slave agent (see
// slave-entrypoint.sh) mark that in /run/gsyncd/sshd-only; there the check is instead: sshd
// is running and listening on port 22, and the slave root is writable.
import fs from 'node:fs';

const TIMEOUT_MS = 2000;
const SSHD_ONLY_MARK = '/run/gsyncd/sshd-only';

function defaultUrl() {
  const bind = process.env.GSYNCD_HTTP_BIND || '127.0.0.1:9754';
  const port = /:(\d{1,5})$/.exec(bind)?.[1] ?? '9754';
  const host = /^\[/.test(bind) ? '[::1]' : '127.0.0.1';
  return `http://${host}:${port}/healthz`;
}

function fail(msg) {
  process.stderr.write(`gsyncd-healthcheck: ${msg}\n`);
  process.exit(1);
}

async function checkHttp(url) {
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'text/plain' } });
  } catch (err) {
    fail(`${url}: ${err?.cause?.code ?? err?.name ?? 'error'} ${err?.cause?.message ?? err?.message ?? ''}`.trim());
  }
  const body = (await res.text().catch(() => '')).trim().split('\n').slice(0, 5).join(' | ');
  if (res.status < 200 || res.status > 299) fail(`${url}: HTTP ${res.status} ${body}`);
  process.stdout.write(`${url}: HTTP ${res.status} ${body}\n`);
}

/** sshd alive (its pid file) and listening on port 22 (/proc/net/tcp*), without connecting to it (a probe connection would put a line into sshd's log every few seconds). */
function checkSshd(root) {
  try {
    fs.accessSync(root, fs.constants.W_OK);
  } catch (err) {
    fail(`slave root ${root} is not writable: ${err.code}`);
  }
  let pid;
  try {
    pid = Number(fs.readFileSync('/run/gsyncd/sshd/sshd.pid', 'utf8').trim());
    process.kill(pid, 0);
  } catch (err) {
    fail(`sshd is not running (${err.code ?? err.message})`);
  }
  const listening = ['/proc/net/tcp', '/proc/net/tcp6'].some((f) => {
    let text = '';
    try { text = fs.readFileSync(f, 'utf8'); } catch { return false; }
    // columns: sl local_address rem_address st ...; port 22 = 0016, state 0A = LISTEN
    return text.split('\n').slice(1).some((line) => {
      const cols = line.trim().split(/\s+/);
      return cols[1]?.endsWith(':0016') && cols[3] === '0A';
    });
  });
  if (!listening) fail('sshd is not listening on port 22');
  process.stdout.write(`sshd-only mode (no slave agent): sshd (pid ${pid}) listening on 22, ${root} writable\n`);
}

if (fs.existsSync(SSHD_ONLY_MARK)) {
  checkSshd(fs.readFileSync(SSHD_ONLY_MARK, 'utf8').trim() || '/data');
} else {
  await checkHttp(process.argv[2] || defaultUrl());
}
