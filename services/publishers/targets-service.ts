import type { SecretBox } from '../../shared/crypto/secrets.js';
import type { Target, TargetInput } from '../../shared/domain/target.js';
import { stableJson } from '../../shared/domain/stable-json.js';
import { notFound, unprocessable } from '../../shared/errors/errors.js';
import type { Store, WriteCondition, WriteOp } from '../../shared/store/port.js';
import { refusedAsNotFound, tenantExists, type DirectoryService } from '../directory/directory-service.js';
import { checkSipServers } from './sip/server-check.js';
import type { SrvResolver } from './sip/srv.js';
import { checkTargetUrl, type Resolver } from './ssrf-guard.js';
import { newWebhookSecret } from './webhook-signature.js';

/** How long a rotated webhook secret keeps signing beside the new one, so receivers switch without refusing anything. */
export const PREVIOUS_SECRET_MS = 24 * 3600_000;
/** Rotations within one window whose secrets still sign; each adds a signature (an HMAC) to every delivery. */
export const MAX_PREVIOUS_SECRETS = 4;

export interface PublicTarget extends Omit<Target, 'sealedPassword' | 'sealedSecret' | 'previousSecrets'> {
  hasPassword?: boolean;
  /** Until when the secret replaced by the last rotation still signs (those replaced before it, sooner). */
  previousSecretUntil?: string;
}

export function publicTarget(t: Target): PublicTarget {
  const { sealedPassword, sealedSecret: _s, previousSecrets, ...rest } = t;
  if (t.kind !== 'webhook') return { ...rest, hasPassword: sealedPassword !== undefined };
  const until = previousSecrets?.at(-1)?.until;
  return until === undefined ? rest : { ...rest, previousSecretUntil: new Date(until).toISOString() };
}

/** Push targets of a tenant: validated (URLs against SSRF), secrets sealed, stored as directory documents. */
export class TargetsService {
  constructor(
    private readonly store: Store,
    private readonly directory: DirectoryService,
    private readonly secrets: SecretBox,
    private readonly resolve: Resolver,
    /** The operator's PRIVATE_TARGETS: whether a tenant's own allowPrivateTargets counts at all. */
    private readonly privateTargets: boolean,
    /** SRV lookups for SIP servers named without a port. */
    private readonly srvResolve?: SrvResolver,
  ) {}

  /** Whether a tenant's targets may be on private networks: its own setting, if the operator lets tenants choose. */
  allowsPrivate(settings: { allowPrivateTargets: boolean } | undefined): boolean {
    return this.privateTargets && (settings?.allowPrivateTargets ?? false);
  }

  async get(tenantId: string, id: string): Promise<Target> {
    const t = await this.store.directory.get('targets', tenantId, id);
    if (!t) throw notFound('target', id);
    return t;
  }

  list(tenantId: string): Promise<Target[]> {
    return this.store.directory.list('targets', tenantId);
  }

  /**
   * Builds the stored document. A password or secret left out keeps the stored one, so an apply file
   * or an edit need not repeat it; a new webhook gets a generated secret, returned once.
   */
  async prepare(tenantId: string, id: string, input: TargetInput, allowPrivateOverride?: boolean): Promise<{ op: WriteOp; secret?: string }> {
    const tenant = await this.directory.getTenant(tenantId);
    const existing = await this.store.directory.get('targets', tenantId, id);
    // An apply file may change the tenant's setting in the same batch.
    const allowPrivate = this.allowsPrivate(allowPrivateOverride === undefined ? tenant.settings : { allowPrivateTargets: allowPrivateOverride });
    if (input.kind === 'webhook') await checkTargetUrl(input.url, allowPrivate, this.resolve);
    if (input.kind === 'ari') await checkTargetUrl(input.baseUrl, allowPrivate, this.resolve);
    // SIP over TCP to an internal service is a cross-protocol request like any other (Redis reads it line by line).
    if (input.kind === 'sip') await checkSipServers(input, allowPrivate, this.resolve, this.srvResolve);
    const { password, secret, ...plain } = input as TargetInput & { password?: string; secret?: string };
    const doc = { ...plain, id, tenantId } as Target;
    const sameKind = existing?.kind === input.kind;
    if (password !== undefined) doc.sealedPassword = this.secrets.seal(password);
    else if (sameKind && existing?.sealedPassword) doc.sealedPassword = existing.sealedPassword;
    let issued: string | undefined;
    if (input.kind === 'webhook') {
      if (secret !== undefined) doc.sealedSecret = this.secrets.seal(secret);
      else if (sameKind && existing?.sealedSecret) {
        doc.sealedSecret = existing.sealedSecret;
        if (existing.previousSecrets !== undefined) Object.assign(doc, { previousSecrets: existing.previousSecrets });
      } else {
        issued = newWebhookSecret();
        doc.sealedSecret = this.secrets.seal(issued);
      }
    }
    if (input.kind === 'ari' && !doc.sealedPassword) throw unprocessable('password_required', 'an ARI target needs a password');
    const op: WriteOp = { op: 'put', collection: 'targets', doc };
    return issued === undefined ? { op } : { op, secret: issued };
  }

  /** Whether applying `input` would leave the stored target as it is (secrets compared by value). */
  unchanged(existing: Target, input: TargetInput): boolean {
    const { password, secret, ...plain } = input as TargetInput & { password?: string; secret?: string };
    const { sealedPassword, sealedSecret, previousSecrets: _p, id: _i, tenantId: _t, ...stored } = existing;
    if (password !== undefined && this.open(sealedPassword) !== password) return false;
    if (secret !== undefined && this.open(sealedSecret) !== secret) return false;
    return stableJson(plain) === stableJson(stored);
  }

  /**
   * A new secret; the one it replaces keeps signing beside it for `PREVIOUS_SECRET_MS` (Standard Webhooks: several
   * signatures), as do those replaced earlier whose time has not run out.
   */
  async rotateSecret(tenantId: string, id: string, now: number): Promise<{ secret: string; previousSecretUntil: number }> {
    const t = await this.get(tenantId, id);
    if (t.kind !== 'webhook') throw unprocessable('not_a_webhook', 'only webhook targets have a signing secret');
    const secret = newWebhookSecret();
    const previousSecretUntil = now + PREVIOUS_SECRET_MS;
    const { previousSecrets = [], ...rest } = t;
    const signing = previousSecrets.filter((p) => p.until > now);
    if (t.sealedSecret !== undefined) signing.push({ sealedSecret: t.sealedSecret, until: previousSecretUntil });
    const doc: Target = { ...rest, sealedSecret: this.secrets.seal(secret) };
    if (signing.length > 0) Object.assign(doc, { previousSecrets: signing.slice(-MAX_PREVIOUS_SECRETS) });
    // Not while the target is deleted: it would come back.
    await this.write(tenantId, { op: 'put', collection: 'targets', doc }, [{ collection: 'targets', tenantId, id, exists: true }]);
    return { secret, previousSecretUntil };
  }

  /**
   * Stores a target (`prepare`d) while its tenant exists and `needs` hold: one written as the tenant is
   * deleted is refused (`404 tenant_not_found`), not left for a tenant created again under its id.
   */
  async write(tenantId: string, op: WriteOp, needs: WriteCondition[] = []): Promise<void> {
    await this.store.directory.write([op], [tenantExists(tenantId), ...needs]).catch((err: unknown) => {
      throw refusedAsNotFound(err);
    });
  }

  async delete(tenantId: string, id: string): Promise<void> {
    await this.get(tenantId, id);
    await this.store.directory.write([{ op: 'delete', collection: 'targets', tenantId, id }]);
  }

  open(sealed: string | undefined): string | undefined {
    return sealed === undefined ? undefined : this.secrets.open(sealed);
  }
}
