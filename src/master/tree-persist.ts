// The tracker's own files in its state directory: its id (the volume id of mark names), the
// root's identity (a replaced root halts), and the index of what the slave confirmed. Also
// where that directory sits: inside the tree it would sync (and watch) itself.
import fs from 'node:fs';
import path from 'node:path';
import { baseName, fromText, parentOf, type BytePath } from '../core/bytepath.js';
import { gsyncdError } from '../core/errors.js';
import type { HaltReason } from '../core/safety.js';
import type { EngineLog } from '../log/logger.js';
import { loadOrCreateId, readRootIdentity, TreeIndex, writeRootIdentity } from './tree-index.js';
import type { TrackerContext } from './tree-state.js';

const ROOT_IDENTITY_FILE = 'root-identity.json';
const VOLUME_ID_FILE = 'volume-id';
const INDEX_FILE = 'index.journal';

/** Create the state directory; the tracker's id, made on first use. */
export function openStateDir(stateDir: string, log: EngineLog): string {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return loadOrCreateId(path.join(stateDir, VOLUME_ID_FILE), () => {
    log.warn({ stateDir }, 'tree tracker id file is malformed: creating a new id (the slave will be resynced)');
  });
}

/** At start: the root's identity (recorded the first time) and the index. */
export function openState(ctx: TrackerContext, rootSt: fs.BigIntStats): void {
  const idFile = path.join(ctx.stateDir, ROOT_IDENTITY_FILE);
  ctx.identity = readRootIdentity(idFile);
  if (!ctx.identity) {
    ctx.identity = { dev: rootSt.dev.toString(), ino: rootSt.ino.toString() };
    writeRootIdentity(idFile, ctx.identity, ctx.opts.root);
  }
  ctx.index = TreeIndex.open(path.join(ctx.stateDir, INDEX_FILE));
  // Every value the slave may hold as a mark was confirmed (and flushed) first: ticks from now
  // on are above all of them even if the wall clock went back while we were down.
  ctx.clock.observe(ctx.index.maxXtime);
}

export function flushIndex(ctx: TrackerContext): void {
  if (!ctx.index) return;
  ctx.index.noteClock(ctx.clock.last);
  ctx.index.flush();
}

export function closeIndex(ctx: TrackerContext): void {
  if (!ctx.index) return;
  ctx.index.noteClock(ctx.clock.last);
  ctx.index.close();
  ctx.index = null;
}

export async function rootSafety(ctx: TrackerContext): Promise<HaltReason | null> {
  let st: fs.BigIntStats;
  try {
    st = await fs.promises.stat(ctx.opts.root, { bigint: true });
    await fs.promises.access(ctx.opts.root, fs.constants.R_OK | fs.constants.X_OK);
  } catch {
    return 'mount_missing';
  }
  if (!st.isDirectory()) return 'mount_missing';
  const id = ctx.identity;
  if (id && (id.dev !== st.dev.toString() || id.ino !== st.ino.toString())) return 'root_type_changed';
  return null;
}

/** Accept the current root directory as this session's master (after a deliberate replacement). */
export async function resetRootIdentity(ctx: TrackerContext): Promise<void> {
  const root = ctx.opts.root;
  const st = await fs.promises.stat(root, { bigint: true });
  if (!st.isDirectory()) throw gsyncdError('GSYNCD_ERR_MOUNT', `master ${root} is not a directory`);
  ctx.identity = { dev: st.dev.toString(), ino: st.ino.toString() };
  writeRootIdentity(path.join(ctx.stateDir, ROOT_IDENTITY_FILE), ctx.identity, root);
  ctx.log.warn({ root }, 'master root identity reset: the current directory is accepted as the master');
}

/** The state directory inside the tree would sync (and watch) itself: skip it. */
export function locateStateDir(ctx: TrackerContext): void {
  let stateReal: string;
  try {
    stateReal = fs.realpathSync(ctx.stateDir);
  } catch {
    stateReal = ctx.stateDir;
  }
  const rel = path.relative(ctx.rootPath, stateReal);
  if (rel === '') throw gsyncdError('GSYNCD_ERR_USAGE', `the tracker state directory cannot be the master root (${ctx.rootPath})`);
  if (rel === '..' || rel.startsWith('../') || path.isAbsolute(rel)) return;
  ctx.stateRel = fromText(rel);
  ctx.stateAbs = stateReal;
}

/** The listing filter of `dir`: the state directory's name when it is in `dir`. */
export function skipFor(ctx: TrackerContext, dir: BytePath): ((name: BytePath) => boolean) | undefined {
  const s = ctx.stateRel;
  if (s === null || parentOf(s) !== dir) return undefined;
  const name = baseName(s);
  return (n) => n === name;
}
