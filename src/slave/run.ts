// Slave mode entry point: serve one master session on stdin/stdout against ROOT.
import type { ResolvedOptions } from '../cli/options.js';
import type { ResourceUrl } from '../url/url.js';

export async function runSlave(_opts: ResolvedOptions, _root: ResourceUrl): Promise<number> {
  throw new Error('runSlave: not implemented yet');
}
