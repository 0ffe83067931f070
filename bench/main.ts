// The benchmark driver (bench/run.sh runs it): sets up the machine, runs every workload for every
// peer with a per-workload timeout, tears everything down, and writes the figures:
//   RESULTS/metrics.txt  `metric value unit` lines (metric = <workload>.<figure>.<peer>)
//   RESULTS/table.md     the ratio table and the target verdicts
//   RESULTS/report.md    machine, versions, date + the tables (pasted into bench/README.md)
//   RESULTS/results.json everything, machine-readable
//   RESULTS/logs/        per workload and peer: gsyncd NDJSON, lsyncd and geo-rep logs, strace
//
// Usage: node --import tsx bench/main.ts [--quick] [--peers a,b] [--workloads a,b] [--results DIR]
//        [--timeout-scale X]
import fs from 'node:fs';
import path from 'node:path';
import { CleanupStack, requireRoot, requireTools } from '../test/support/proc.js';
import { BENCH_BASE, GSYNCD_JS, log, machineInfo, reapStaleBenchRuns, REPO, setupGeoRepKeys, setupGlusterd, setupRootSsh, type SshSetup } from './env.js';
import { haveStrace } from './measure.js';
import { cpPeer, georepPeer, gsyncdPeer, lsyncdPeer, rsyncPeer, rsyncSshPeer, type Peer } from './peers.js';
import { metricLine, Results, verdicts, verdictTable, type Figure } from './report.js';
import { FULL, QUICK, WORKLOADS, type Sizes } from './workloads.js';

interface Args {
  quick: boolean;
  peers: string[] | null;
  workloads: string[] | null;
  results: string | null;
  timeoutScale: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, peers: null, workloads: null, results: null, timeoutScale: 1 };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${x} needs a value`);
      return v;
    };
    if (x === '--quick') a.quick = true;
    else if (x === '--peers') a.peers = val().split(',').filter(Boolean);
    else if (x === '--workloads') a.workloads = val().split(',').filter(Boolean);
    else if (x === '--results') a.results = val();
    else if (x === '--timeout-scale') a.timeoutScale = Number(val());
    else throw new Error(`unknown argument ${x}`);
  }
  return a;
}

const ALL_PEERS = ['gsyncd', 'gsyncd-local', 'georep', 'lsyncd', 'rsync', 'rsync-ssh', 'cp'];

function makePeer(id: string, ssh: SshSetup): Peer {
  switch (id) {
    case 'gsyncd':
      return gsyncdPeer('gsyncd', 'gsyncd (ssh)', ssh);
    case 'gsyncd-local':
      return gsyncdPeer('gsyncd-local', 'gsyncd (local)', null);
    case 'georep':
      return georepPeer();
    case 'lsyncd':
      return lsyncdPeer(ssh);
    case 'rsync':
      return rsyncPeer();
    case 'rsync-ssh':
      return rsyncSshPeer(ssh);
    case 'cp':
      return cpPeer();
    default:
      throw new Error(`unknown peer ${id} (known: ${ALL_PEERS.join(', ')})`);
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync', 'ssh', 'sshd', 'getfattr', 'lsyncd']);
  if (!fs.existsSync(GSYNCD_JS)) throw new Error(`${GSYNCD_JS} is missing: bench/run.sh builds it`);
  const sizes: Sizes = args.quick ? QUICK : FULL;
  const peerIds = args.peers ?? ALL_PEERS;
  const workloads = WORKLOADS.filter((w) => !args.workloads || args.workloads.includes(w.id) || args.workloads.includes(w.id[0]!));
  const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, '');
  const resultsDir = args.results ?? path.join(REPO, 'bench/results', `${stamp}${args.quick ? '-quick' : ''}`);
  const runDir = path.join(BENCH_BASE, `run.${process.pid}`);
  fs.mkdirSync(path.join(resultsDir, 'logs'), { recursive: true });
  fs.mkdirSync(runDir, { recursive: true });

  const runStack = new CleanupStack();
  const { removeTree } = await import('../test/support/proc.js');
  runStack.defer(`remove ${runDir}`, () => removeTree(runDir));

  const results = new Results();
  const machine = machineInfo();
  log(`gsyncd bench (${args.quick ? 'quick' : 'full'}): peers ${peerIds.join(', ')}; workloads ${workloads.map((w) => w.id).join(', ')}`);
  log(`results in ${resultsDir}; scratch in ${runDir}; load average at start ${machine['loadavg']}`);

  // Our own signal handling (instead of the test helpers' drain-and-exit-in-30-s): the first
  // SIGINT/SIGTERM aborts the current workload and skips the rest, then everything is torn down
  // as usual; a second one exits at once.
  let stopping = false;
  let current: AbortController | null = null;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(sig);
    process.on(sig, () => {
      if (stopping) {
        log(`second ${sig}: exiting without finishing the teardown (a later run reaps what is left)`);
        process.exit(130);
      }
      stopping = true;
      log(`${sig}: aborting the current workload, then tearing down`);
      current?.abort(new Error(`interrupted by ${sig}`));
    });
  }

  let exit = 0;
  try {
    await reapStaleBenchRuns();
    await setupGlusterd(runStack);
    const ssh = await setupRootSsh(runStack);
    if (peerIds.includes('georep')) await setupGeoRepKeys(runStack);
    const peers = peerIds.map((id) => makePeer(id, ssh));
    if (!haveStrace()) log('strace not available: syscall counts will be reported as unavailable');
    const shared = new Map<string, unknown>();

    for (const w of workloads) {
      for (const peer of peers) {
        if (stopping) break;
        const decl = w.metrics(peer);
        const fig = (name: string) => `${w.id[0]}.${name}`;
        if (!decl.length) continue;
        const timeoutMs = w.timeoutSec(sizes) * 1000 * args.timeoutScale;
        log(`== ${w.id} (${w.title}) — ${peer.label}; timeout ${timeoutMs / 1000} s`);
        const ac = new AbortController();
        current = ac;
        const timer = setTimeout(() => ac.abort(new Error(`timeout after ${timeoutMs / 1000} s`)), timeoutMs);
        const stack = new CleanupStack();
        const recorded = new Set<string>();
        let progressNote = '';
        const logDir = path.join(resultsDir, 'logs', `${w.id}-${peer.id}`);
        fs.mkdirSync(logDir, { recursive: true });
        const t0 = Date.now();
        let failure: string | null = null;
        try {
          await w.run({
            peer,
            sizes,
            runDir,
            logDir,
            stack,
            runStack,
            shared,
            signal: ac.signal,
            note(text) {
              progressNote = text;
            },
            rec(metric, value, unit, note) {
              const f: Figure = { metric, peer: peer.id, value, unit, ...(note ? { note } : {}) };
              results.set(f);
              recorded.add(metric);
              console.log(`METRIC ${metricLine(f)}`);
            },
          });
        } catch (e) {
          failure = stopping ? 'interrupted' : ac.signal.aborted ? 'timeout' : 'failed';
          log(`   ${w.id} ${peer.label}: ${failure}: ${e instanceof Error ? e.message : String(e)}`);
          fs.appendFileSync(path.join(logDir, 'error.txt'), `${e instanceof Error ? e.stack : String(e)}\n`);
        } finally {
          clearTimeout(timer);
          try {
            await stack.run();
          } catch (e) {
            log(`   cleanup after ${w.id} ${peer.label}: ${e instanceof Error ? e.message : String(e)}`);
            exit = 1;
          }
        }
        for (const d of decl) {
          const m = fig(d.name);
          if (!recorded.has(m)) {
            const f: Figure = { metric: m, peer: peer.id, value: null, unit: d.unit, note: failure ?? 'n/a', ...(failure && progressNote ? { detail: progressNote } : {}) };
            results.set(f);
            console.log(`METRIC ${metricLine(f)}`);
          }
        }
        log(`   ${w.id} ${peer.label} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      }
    }
  } finally {
    log('tearing down');
    try {
      await runStack.run();
    } catch (e) {
      log(`teardown: ${e instanceof Error ? e.message : String(e)}`);
      exit = 1;
    }
  }

  const cols = peerIds.map((id) => ({ id, label: makePeerLabel(id) }));
  results.derive(cols);
  const vs = verdicts(results, sizes.renameFiles * 64 * 1024);
  const lines = results.figures.map(metricLine);
  const table = results.table(cols);
  const vt = verdictTable(vs);
  fs.writeFileSync(path.join(resultsDir, 'metrics.txt'), `${lines.join('\n')}\n`);
  fs.writeFileSync(path.join(resultsDir, 'table.md'), `${table}\n\n${vt}\n`);
  const machineMd = Object.entries(machine).map(([k, v]) => `- ${k}: ${v}`).join('\n');
  const sizeMd = `sizes: a ${sizes.smallFiles} × 4 KiB in ${sizes.smallDirs} dirs; b ${sizes.bigFiles} × ${sizes.bigBytes >> 20} MiB; c ${sizes.latencySamples} samples; d ${sizes.renameFiles} files (64 KiB for renames, 4 KiB for deletes); e ${sizes.idleSeconds} s windows; f ${sizes.scaleFiles / 10} then ${sizes.scaleFiles} files of 1 KiB`;
  fs.writeFileSync(path.join(resultsDir, 'report.md'), `## ${args.quick ? 'Quick' : 'Full'} run ${machine['date']}\n\n${machineMd}\n- ${sizeMd}\n\n${table}\n\n${vt}\n`);
  fs.writeFileSync(path.join(resultsDir, 'results.json'), JSON.stringify({ machine, sizes, peers: cols, figures: results.figures, verdicts: vs }, null, 2));
  console.log('\n==== figures (metric value unit) ====');
  for (const l of lines) console.log(l);
  console.log('\n==== ratios ====');
  console.log(table);
  console.log('\n==== targets ====');
  console.log(vt);
  console.log(`\nresults: ${resultsDir}`);
  return exit;
}

function makePeerLabel(id: string): string {
  return ({ gsyncd: 'gsyncd (ssh)', 'gsyncd-local': 'gsyncd (local)', georep: 'geo-rep', lsyncd: 'lsyncd', rsync: 'rsync -a', 'rsync-ssh': 'rsync -a -e ssh', cp: 'cp -a' } as Record<string, string>)[id] ?? id;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.stack : String(e)}`);
    process.exitCode = 1;
  },
);
