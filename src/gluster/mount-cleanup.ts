// Process-wide: every live aux mount is unmounted when the process ends, however it ends.
/** What the exit hook needs of a mount (AuxMount is one). */
export interface Unmountable {
  readonly mounted: boolean;
  readonly dir: string;
  unmountSync(): void;
}

const live = new Set<Unmountable>();
let hooked = false;

/**
 * Make sure `mount` is unmounted when the process ends: at `exit` (normal end, uncaught error)
 * and on SIGTERM/SIGINT. When nobody else listens for the signal we unmount and re-raise it (so
 * the process still dies of it); when the worker has its own handler, the mount stays for the
 * worker's graceful shutdown and the `exit` hook unmounts whatever is left. Returns an
 * unregister function. AuxMount.mount() calls this itself.
 */
export function registerMountCleanup(mount: Unmountable): () => void {
  live.add(mount);
  if (!hooked) {
    hooked = true;
    process.on('exit', unmountAllSync);
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const onSignal = (): void => {
        if (process.listenerCount(sig) > 1) return; // the worker shuts down; `exit` catches the rest
        unmountAllSync();
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      };
      process.on(sig, onSignal);
    }
  }
  return () => unregisterMountCleanup(mount);
}

export function unregisterMountCleanup(mount: Unmountable): void {
  live.delete(mount);
}

/** Unmount every live aux mount of this process, synchronously. */
export function unmountAllSync(): void {
  for (const m of [...live]) m.unmountSync();
}

/** Aux mounts this process currently owns (for status and tests). */
export function liveMounts(): string[] {
  return [...live].filter((m) => m.mounted).map((m) => m.dir);
}
