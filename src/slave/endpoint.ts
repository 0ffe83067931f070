// A slave directory on this host, served in-process through the same SlaveServer a remote
// slave runs behind its RPC server.
import type { BytePath } from '../core/bytepath.js';
import type { EntryOp } from '../core/ops.js';
import type { RsyncTarget, SlaveEndpoint, SlaveIdentity } from '../protocol/endpoint.js';
import { SlaveServer } from './server.js';

/** A slave directory on this host, served in-process. */
export class LocalSlave implements SlaveEndpoint {
  private readonly server: SlaveServer;

  constructor(readonly root: string, readonly description: string, private readonly onClose?: () => Promise<void>) {
    this.server = new SlaveServer(root);
  }

  identity(): Promise<SlaveIdentity> { return this.server.identity(); }
  list(dir: BytePath, markKey: string) { return this.server.list(dir, markKey); }
  readMark(dir: BytePath, markKey: string) { return this.server.readMark(dir, markKey); }
  apply(ops: EntryOp[], markKey: string) { return this.server.apply(ops, markKey); }
  rsyncTarget(): RsyncTarget { return { dest: this.root }; }
  async close(): Promise<void> { await this.onClose?.(); }
}
