import { z } from 'zod';
import { AVAILABILITIES } from '../../shared/domain/activity.js';
import { VERDICTS } from '../../shared/domain/presence.js';
import { ENDPOINT_KINDS, SOURCES } from '../../shared/domain/signal.js';

/**
 * The shape callers are shown of a person's presence (REST, the stream, webhooks), for the OpenAPI
 * document: `views.ts` builds it. Each schema with a `meta` id is one of its `components.schemas`.
 */

export const instant = z.string().describe('RFC 3339, UTC');

export const endpointSchema = z.object({ id: z.string(), kind: z.enum(ENDPOINT_KINDS), contact: z.string().optional() }).meta({ id: 'Endpoint', description: 'a phone or app reachable now (`contact`: where routing rings it, when known)' });

const explanationEntrySchema = z.object({
  signal: z.string(),
  source: z.enum(SOURCES),
  claim: z.string(),
  rule: z.string().optional(),
  verdict: z.enum(VERDICTS),
  reason: z.string(),
});

export const presenceViewSchema = z.object({
  personId: z.string(),
  name: z.string().optional().describe('absent for external keys'),
  availability: z.enum(AVAILABILITIES).describe('external keys see only `available` or `busy`'),
  version: z.number().int().describe('only grows per person and viewer; drop an update whose version is lower than the one you hold'),
  since: instant.optional().describe('when what the caller sees began; absent for external keys and for someone nothing is known of yet'),
  activity: z.string().optional().describe('the reason (a built-in activity or a tenant\'s custom one): admins, supervisors and PBX keys, the member key for its own person; not for people marked sensitive'),
  routable: z.boolean().optional().describe('whether a call may be offered now: as `activity`, and PBX keys also for sensitive people'),
  endpoints: z.array(endpointSchema).optional().describe('as `routable`'),
  until: instant.optional().describe('when the state ends, when known (as `activity`)'),
  note: z.string().optional().describe('the manual status\' note while it decides the state (as `activity`)'),
  next: z.object({ at: instant, availability: z.enum(AVAILABILITIES), activity: z.string() }).optional().describe('the next known transition (as `activity`)'),
  source: z.enum(SOURCES).optional().describe('the deciding source: admins, and the member key for its own person'),
  rule: z.string().optional().describe('the deciding policy rule (as `source`)'),
  explanation: z.array(explanationEntrySchema).optional().describe('every signal considered and its verdict (as `source`)'),
}).meta({ id: 'PresenceView', description: 'one person as the caller\'s role may see them (README: What each role sees)' });

export const presenceListSchema = z.object({ presence: z.array(presenceViewSchema) });

/** The bodies of webhook deliveries (Standard Webhooks), documented under the document's `webhooks`. */
export const webhookUpdatedSchema = z.object({
  type: z.literal('presence.updated'),
  tenant: z.string(),
  personId: z.string(),
  version: z.number().int(),
  person: z.object({ name: z.string(), extension: z.string().optional(), sipUri: z.string().optional() }),
  presence: presenceViewSchema,
}).meta({ id: 'WebhookPresenceUpdated', description: '`presence` is the person as a `pbx` key sees them, with the state\'s own version (also the envelope\'s)' });

export const webhookRemovedSchema = z.object({
  type: z.literal('presence.removed'),
  tenant: z.string(),
  personId: z.string(),
  version: z.number().int(),
  reason: z.literal('out-of-scope').optional().describe('the person left the teams the target is limited to (absent: the person was deleted)'),
}).meta({ id: 'WebhookPresenceRemoved', description: 'the person was deleted (at a version above any sent before), or left the target\'s teams (`reason`, at the version the target has)' });

/** The stream's first event (and the one after a resume that is too old): everyone the stream covers. */
export const streamSnapshotSchema = z.object({ at: instant.describe("the server's instant, for clients whose clock is off"), presence: z.array(presenceViewSchema) }).meta({ id: 'StreamSnapshot', description: '`event: snapshot` (no `id`)' });

export const streamRemovedSchema = z.object({ personId: z.string() }).meta({ id: 'StreamRemoved', description: '`event: removed`, with an `id`: the person was deleted, or left the team a `?team=` stream follows' });
