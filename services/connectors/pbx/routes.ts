import { setImmediate as giveWay } from 'node:timers/promises';
import { z } from 'zod';
import type { Device, Person } from '../../../shared/domain/directory.js';
import type { Endpoint } from '../../../shared/domain/signal.js';
import { AppError, badRequest } from '../../../shared/errors/errors.js';
import type { Hub } from '../../hub.js';
import { route, type AnyRoute } from '../../api/route.js';
import { zodDetails } from '../../api/http-errors.js';
import { batchAnswer, type BatchAnswer, type EventNote, type PersonChanges } from './batch-answer.js';
import type { CallOutcome } from './call-outcomes.js';
import { parsePbxBatch } from './batch-parse.js';
import { extensionEndpointId, pbxEventChanges } from './map.js';
import { PBX_EVENT_TYPES, pbxBatchSchema, type PbxEvent } from './schema.js';
import { pbxBatchAnswerSchema } from '../../api/response-schema.js';

/** People merged in one go before a batch lets the event loop run timers and other I/O (about 0.5 ms of work). */
const APPLY_CHUNK = 25;

/** How far ahead of our clock a PBX timestamp may be before the event is refused. */
const FUTURE_TOLERANCE_MS = 60_000;

/** Epoch milliseconds below this (March 1973) are a PBX sending seconds: applied, they would be silently stale. */
const EPOCH_MS_FLOOR = 1e11;

export function pbxRoutes(hub: Hub): AnyRoute[] {
  /** The directory record an event names: its device, or the person with its extension. */
  function lookUp(tenantId: string, e: PbxEvent): Promise<Device | Person | undefined> {
    return e.device !== undefined ? hub.store.directory.get('devices', tenantId, e.device) : hub.store.directory.findUnique('people', 'extension', e.extension!, tenantId);
  }

  function targetOf(e: PbxEvent, found: Device | Person | undefined): { personId: string; endpoint: Endpoint } | undefined {
    if (!found) return undefined;
    if (e.device !== undefined) {
      const d = found as Device;
      const contact = e.contact ?? d.contact;
      return { personId: d.personId, endpoint: contact ? { id: d.id, kind: d.kind, contact } : { id: d.id, kind: d.kind } };
    }
    const p = found as Person;
    const contact = e.contact ?? p.sipUri;
    const id = extensionEndpointId(e.extension!);
    return { personId: p.id, endpoint: contact ? { id, kind: 'desk', contact } : { id, kind: 'desk' } };
  }

  async function ingest(tenantId: string, raw: Buffer): Promise<BatchAnswer> {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw badRequest('invalid_json', 'the body is not valid JSON');
    }
    const parsed = parsePbxBatch(json);
    if (!parsed.success) throw badRequest('invalid_body', 'the batch does not match the schema', zodDetails(parsed.error));
    const { events } = parsed.data;
    if (events.length > hub.config.pbx.maxEvents) {
      throw badRequest('too_many_events', `at most ${hub.config.pbx.maxEvents} events per batch`);
    }
    // Counted in events, before any is looked at: a batch that does not fit is refused whole.
    await hub.limits.take(tenantId, 'pbxEvents', tenantId, events.length);
    // All look-ups at once: a shared store answers them in one round trip.
    const [tenant, found] = await Promise.all([hub.directory.getTenant(tenantId), Promise.all(events.map((e) => (e ? lookUp(tenantId, e) : undefined)))]);
    const now = hub.clock.now();
    const rejected: EventNote[] = [];
    const byPerson = new Map<string, PersonChanges>();
    const outcomes: CallOutcome[] = [];
    for (const [index, e] of events.entries()) {
      if (!e) {
        const type = String((json as { events: Array<{ type: string }> }).events[index]!.type).slice(0, 64);
        rejected.push({ index, code: 'unknown_type', message: `unknown event type ${JSON.stringify(type)}; known: ${PBX_EVENT_TYPES.join(', ')}` });
        continue;
      }
      const target = targetOf(e, found[index]);
      if (!target) {
        rejected.push({ index, code: e.device ? 'unknown_device' : 'unknown_extension', message: `no ${e.device ? `device ${e.device}` : `extension ${e.extension}`} in the directory` });
        continue;
      }
      const at = typeof e.at === 'number' ? e.at : Date.parse(e.at);
      if (typeof e.at === 'number' && e.at < EPOCH_MS_FLOOR) {
        rejected.push({ index, code: 'at_in_seconds', message: 'at looks like epoch seconds: send epoch milliseconds or RFC 3339' });
        continue;
      }
      if (at > now + FUTURE_TOLERANCE_MS) {
        rejected.push({ index, code: 'at_in_future', message: 'the event timestamp is ahead of our clock' });
        continue;
      }
      // A queue call ends in the queue's (group's) wrap-up when the event does not say.
      const groupWrapUp = e.type === 'hangup' && e.queue !== undefined && e.wrapUpSeconds === undefined ? await hub.callOutcomes.wrapUpSeconds(tenantId, e.queue) : undefined;
      const changes = pbxEventChanges(e, target.endpoint, at, groupWrapUp ?? tenant.settings.wrapUpSeconds);
      const mine = byPerson.get(target.personId);
      // A person's first event of the batch (in most batches the only one) keeps its own array, sized to
      // fit: pushing into an empty array reserves room for 17.
      if (!mine) byPerson.set(target.personId, { personId: target.personId, changes, events: changes.map(() => index) });
      else {
        for (const c of changes) {
          mine.changes.push(c);
          mine.events.push(index);
        }
      }
      if (e.type === 'answered' || e.type === 'hangup') {
        const o: CallOutcome = { tenantId, personId: target.personId, endpointId: target.endpoint.id, type: e.type, at };
        if (e.callId !== undefined) o.callId = e.callId;
        if (e.queue !== undefined) o.queue = e.queue;
        if (e.type === 'hangup' && e.wrapUpSeconds !== undefined) o.wrapUpSeconds = e.wrapUpSeconds;
        outcomes.push(o);
      }
    }
    const people = [...byPerson.values()];
    for (const p of people) p.outcomes = new Uint8Array(p.changes.length);
    for (let i = 0; i < people.length; i += APPLY_CHUNK) {
      // Give way between chunks, so a large batch does not hold up due transitions and other requests.
      if (i > 0) await giveWay();
      hub.engine.timeline.runDue();
      await Promise.all(people.slice(i, i + APPLY_CHUNK).map((p) => hub.engine.apply(tenantId, p.personId, p.changes, p.outcomes)));
    }
    await hub.callOutcomes.emit(outcomes);
    return batchAnswer(events.length, people, rejected);
  }

  return [
    route({
      method: 'post',
      path: '/v1/pbx/events',
      summary: 'A batch of PBX device events, signed with HMAC-SHA256 over "<timestamp>.<body>"',
      tag: 'pbx',
      auth: 'pbx',
      raw: true,
      body: pbxBatchSchema as z.ZodType<unknown>,
      returns: { 200: pbxBatchAnswerSchema },
      responses: {
        200: 'accepted; counts events (applied + ignored + rejected = received); rejected and ignoredEvents list the events that changed nothing, with index, code and message (an event of a type not listed here is rejected on its own as unknown_type)',
        400: 'malformed batch (invalid_json, invalid_body, too_many_events): nothing applied',
        401: 'missing, wrong or stale signature (missing_signature, invalid_signature, stale_timestamp)',
        409: 'replayed batch (replayed_request)',
        413: "body_too_large, or batch_exceeds_limit: more events than the tenant's whole PBX event limit (nothing applied; waiting never helps: send smaller batches)",
        429: "more events than the tenant's PBX event limit has left (nothing applied; the same batch may be sent again after Retry-After)",
      },
      async handle({ principal, req }) {
        if (principal.kind !== 'pbx') throw new Error('pbx principal expected');
        try {
          return { body: await ingest(principal.tenantId, req.body as Buffer) };
        } catch (err) {
          // Events are idempotent by their own timestamps, so a batch that failed on our side (the store away)
          // or was over the limit may be sent again byte for byte; only a batch we refused for what it is stays refused.
          if (!(err instanceof AppError && err.status < 500 && err.status !== 429)) await hub.replay.forget(principal.replayKey).catch(() => undefined);
          throw err;
        }
      },
    }),
  ];
}
