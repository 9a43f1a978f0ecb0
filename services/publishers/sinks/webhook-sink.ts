import { createHash } from 'node:crypto';
import type { Clock } from '../../../shared/clock/clock.js';
import type { WebhookTarget } from '../../../shared/domain/target.js';
import { viewOf } from '../../api/views.js';
import { expectSuccess, type HttpTargetClient } from '../http-client.js';
import type { Delivery, Sink } from '../sink.js';
import { signWebhook } from '../webhook-signature.js';

const PBX_VIEW = { kind: 'key', tenantId: '', keyId: 'publisher', role: 'pbx' } as const;

/**
 * A signed JSON webhook per state (Standard Webhooks headers). The message id is stable per person
 * and version, so a retried delivery is recognisably the same message; the body carries the version so
 * a receiver can drop anything older than what it has. A state that reads exactly as the last one sent
 * (a sensitive person's change of activity behind the same availability, a directory edit the receiver
 * does not see) is not sent: the message itself would tell that something changed.
 */
export class WebhookSink implements Sink {
  private readonly url: URL;
  /** A digest of what the receiver last read of each person, versions aside. */
  private readonly told = new Map<string, string>();

  constructor(
    private readonly target: WebhookTarget,
    private readonly secret: string,
    private readonly client: HttpTargetClient,
    private readonly clock: Clock,
    /** Secrets replaced by rotations: each signs too until its `until`. */
    private readonly previousSecrets: ReadonlyArray<{ secret: string; until: number }> = [],
  ) {
    this.url = new URL(target.url);
  }

  async deliver(d: Delivery): Promise<void | 'unchanged'> {
    let reads: string | undefined;
    let payload: object;
    // A state of someone whose record is gone (deleted as it was published) cannot be rendered as the
    // documented body says; their removal follows.
    if (d.presence && !d.person) return 'unchanged';
    if (d.presence && d.person) {
      const person = { name: d.person.name, extension: d.person.extension, sipUri: d.person.sipUri };
      // The message's id and envelope carry the state's own version, so the body keeps it too.
      const presence = { ...viewOf(d.presence, d.person, PBX_VIEW), version: d.presence.version };
      const { version: _, ...visible } = presence;
      reads = createHash('sha256').update(JSON.stringify([person, visible])).digest('base64url');
      if (this.told.get(d.personId) === reads) return 'unchanged';
      payload = { type: 'presence.updated', tenant: d.tenantId, personId: d.personId, version: d.version, person, presence };
    } else {
      payload = { type: 'presence.removed', tenant: d.tenantId, personId: d.personId, version: d.version, ...(d.outOfScope ? { reason: 'out-of-scope' } : {}) };
    }
    const body = JSON.stringify(payload);
    // A re-rendering, or a withdrawal from the target's scope, is another message of the same version
    // (receivers deduplicate by id).
    const again = d.rerender === undefined ? '' : `_${d.outOfScope ? 'w' : 'r'}${d.rerender}`;
    const id = `msg_${d.tenantId}_${d.personId}_${d.version}${again}`;
    const now = this.clock.now();
    const timestamp = Math.floor(now / 1000);
    const secrets = [this.secret];
    for (const p of this.previousSecrets) if (now < p.until) secrets.push(p.secret);
    // Until the receiver answers, what it holds is unknown (a request that timed out or got a 5xx may have
    // been taken): a later state that reads as the last acknowledged one must still go out.
    this.told.delete(d.personId);
    const res = await this.client.request('POST', this.url, {
      'Content-Type': 'application/json',
      'User-Agent': 'presence-hub',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': secrets.map((s) => signWebhook(s, id, timestamp, body)).join(' '),
    }, body);
    expectSuccess(res, this.target.url);
    if (reads === undefined) this.told.delete(d.personId);
    else this.told.set(d.personId, reads);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
