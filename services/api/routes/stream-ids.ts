import { createCipheriv, createDecipheriv, createHmac, type Cipher, type Decipher } from 'node:crypto';

const TOKEN = /^[0-9a-f]{32}$/;

/**
 * The ids a stream hands out. The feed's own ids count changes (`<epoch>-<seq>`: per tenant embedded, across
 * every tenant with Redis), so the gap between two ids a client was shown would tell it how many changes it
 * was not shown: a member or external key could count a sensitive colleague's hidden changes, and with Redis
 * any key the activity of every other tenant. A client gets `<epoch>-<token>` instead: the sequence and a
 * check bound to its tenant and the epoch, as one AES block under a key of the deployment. A block cipher
 * is a permutation: a change has the same id on every replica (a client resumes anywhere), and the ids of
 * two changes say nothing of how far apart they are. An id of another tenant, or altered, decodes to nothing
 * and is answered as an unknown one (a snapshot).
 */
export class StreamIds {
  // ECB on single blocks keeps no state between calls, so one cipher of each direction serves every id.
  private readonly cipher: Cipher;
  private readonly decipher: Decipher;
  private readonly checks = new Map<string, Buffer>();
  /** The last id made: a change is fanned out to every client of its tenant (each view kind) in one go. */
  private last = { tenantId: '', feedId: '', id: '' };

  constructor(
    key: Buffer,
    private readonly checkKey: Buffer,
  ) {
    this.cipher = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
    this.decipher = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  }

  /** The id a client of `tenantId` is shown for the feed's event id. */
  toClient(tenantId: string, feedId: string): string {
    if (this.last.feedId === feedId && this.last.tenantId === tenantId) return this.last.id;
    const dash = feedId.lastIndexOf('-');
    const epoch = feedId.slice(0, dash);
    const block = Buffer.allocUnsafe(16);
    block.writeBigUInt64BE(BigInt(feedId.slice(dash + 1)), 0);
    this.check(tenantId, epoch).copy(block, 8);
    const id = `${epoch}-${this.cipher.update(block).toString('hex')}`;
    this.last = { tenantId, feedId, id };
    return id;
  }

  /** The feed's event id a client's id stands for; `undefined` when it is none this tenant was shown. */
  fromClient(tenantId: string, id: string): string | undefined {
    const dash = id.lastIndexOf('-');
    const token = id.slice(dash + 1);
    if (dash < 0 || !TOKEN.test(token)) return undefined;
    const epoch = id.slice(0, dash);
    const block = this.decipher.update(Buffer.from(token, 'hex'));
    return block.subarray(8).equals(this.check(tenantId, epoch)) ? `${epoch}-${block.readBigUInt64BE(0)}` : undefined;
  }

  /** 64 bits: a forged id passes about once in 2^64 tries. */
  private check(tenantId: string, epoch: string): Buffer {
    const name = `${tenantId}\n${epoch}`;
    let c = this.checks.get(name);
    if (!c) {
      c = createHmac('sha256', this.checkKey).update(name).digest().subarray(0, 8);
      // Tenants times datasets (or processes) seen since the start: few, but not kept without bound.
      if (this.checks.size >= 10_000) this.checks.clear();
      this.checks.set(name, c);
    }
    return c;
  }
}
