// Entry points the CLI calls for each mode. Filled in by the sync engine.
import type { ResolvedOptions } from '../cli/options.js';
import type { ResourceUrl } from '../url/url.js';

/** Master mode: sync MASTER to SLAVE (continuous, or --once / --turns N). Resolves to an exit status. */
export async function runMaster(_opts: ResolvedOptions, _master: ResourceUrl, _slave: ResourceUrl): Promise<number> {
  throw new Error('runMaster: not implemented yet');
}
