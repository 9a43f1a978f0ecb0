import { z } from 'zod';
import { idSchema } from './directory.js';

const common = {
  name: z.string().min(1).max(200),
  enabled: z.boolean().default(true),
  /** Only these people (ids) and/or members of these teams; absent = everyone in the tenant. */
  people: z.array(idSchema).max(10_000).optional(),
  teams: z.array(idSchema).max(100).optional(),
  /** Changes within this window after a delivery are coalesced into the final state. */
  coalesceMs: z.number().int().min(0).max(60_000).optional(),
};

export const webhookTargetSchema = z
  .object({
    kind: z.literal('webhook'),
    ...common,
    url: z.string().max(2000),
    /** Standard Webhooks secret (`whsec_` + base64); generated when absent. */
    secret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/=]{24,}$/, 'whsec_ followed by base64')
      .optional(),
  })
  .strict();

export const ariTargetSchema = z
  .object({
    kind: z.literal('ari'),
    ...common,
    /** Asterisk's HTTP server, e.g. http://pbx.internal:8088 (ARI lives under /ari). */
    baseUrl: z.string().max(2000),
    username: z.string().min(1).max(200),
    password: z.string().min(1).max(500).optional(),
    /** ARI-controlled device names are `Stasis:…`; {personId} and {extension} are filled in. */
    deviceName: z
      .string()
      .regex(/^Stasis:[^/?#]+$/, 'an ARI-controlled device name: Stasis:<name>')
      .default('Stasis:presence-{personId}'),
  })
  .strict();

export const sipTargetSchema = z
  .object({
    kind: z.literal('sip'),
    ...common,
    /** The presence server, e.g. sip:presence.example.com:5060. */
    server: z.string().regex(/^sips?:[^\s@]+$/, 'a SIP URI of the server, e.g. sip:presence.example.com:5060'),
    transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
    /** The domain presentities live in: sip:<extension or id>@<domain>. A host only: it goes into SIP headers as is. */
    domain: z.string().max(255).regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/, 'a host name or address, e.g. example.com'),
    /** Goes into the digest Authorization header: no control characters (CR/LF would start a header of its own). */
    // eslint-disable-next-line no-control-regex
    username: z.string().min(1).max(200).regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters').optional(),
    password: z.string().min(1).max(500).optional(),
    expiresSec: z.number().int().min(60).max(86_400).default(3600),
    /** Subscribe to the dialog package of each person's extension (BLF) and feed it back as PBX state. */
    subscribeDialog: z.boolean().default(false),
  })
  .strict();

export const targetInputSchema = z.discriminatedUnion('kind', [webhookTargetSchema, ariTargetSchema, sipTargetSchema]);
export type TargetInput = z.infer<typeof targetInputSchema>;
export type TargetKind = TargetInput['kind'];

type Stored<T> = Omit<T, 'password' | 'secret'> & {
  id: string;
  tenantId: string;
  /** Secrets sealed with AES-256-GCM (shared/crypto/secrets.ts). */
  sealedPassword?: string;
  sealedSecret?: string;
  /**
   * A webhook's secrets replaced by rotations, each still signing beside the current one until its `until`
   * (ms): every one replaced within that window, so rotating twice in a day drops none a receiver may hold.
   */
  previousSecrets?: Array<{ sealedSecret: string; until: number }>;
};
export type WebhookTarget = Stored<z.infer<typeof webhookTargetSchema>>;
export type AriTarget = Stored<z.infer<typeof ariTargetSchema>>;
export type SipTarget = Stored<z.infer<typeof sipTargetSchema>>;
export type Target = WebhookTarget | AriTarget | SipTarget;
