import { z } from 'zod';
import type { Person } from '../../../shared/domain/directory.js';
import type { FeedEvent } from '../../../shared/store/feed.js';
import type { Hub } from '../../hub.js';
import { tenantOf } from '../auth.js';
import { route, type AnyRoute } from '../route.js';
import { presenceViewSchema, streamRemovedSchema, streamSnapshotSchema } from '../view-schema.js';
import { unchangedFor, viewKind, viewOf } from '../views.js';
import { peopleOf, snapshot } from './presence.js';
import { sharedFrame } from './shared-frames.js';
import { StreamIds } from './stream-ids.js';
import { TickWriter } from './tick-writer.js';

const ALL_ROLES = ['admin', 'supervisor', 'member', 'pbx', 'external'] as const;

export function streamRoutes(hub: Hub): AnyRoute[] {
  const ids = new StreamIds(hub.secrets.derive('stream-ids'), hub.secrets.derive('stream-id-checks'));
  return [
    route({
      method: 'get',
      path: '/v1/stream',
      summary:
        'Server-Sent Events: `snapshot` first (or after a resume that is too old), then `presence` per change with an id (a directory edit a stream shows, such as a team or the sensitive flag, sends `presence` again at a version no lower than before, or `removed` to a team stream someone left); send Last-Event-ID to resume',
      tag: 'presence',
      auth: 'key',
      roles: ALL_ROLES,
      limit: 'streams',
      holds: 'openStreams',
      query: z.object({ team: z.string().max(64).optional(), person: z.string().max(64).optional(), lastEventId: z.string().max(64).optional() }),
      responses: { 200: 'text/event-stream: `retry: 2000`, then `snapshot` (no id), then `presence` (a PresenceView) and `removed` events, each with an `id` to resume from; `: keepalive` comments every SSE_KEEPALIVE_MS' },
      streams: { mediaType: 'text/event-stream', events: [streamSnapshotSchema, presenceViewSchema, streamRemovedSchema] },
      async handle({ principal, query, req, res }) {
        const tenantId = tenantOf(principal);
        const sent = req.header('last-event-id') ?? query.lastEventId;
        // An id this tenant was never shown (another's, altered, or from before ids were opaque) resumes nothing.
        const lastEventId = sent === undefined ? undefined : ids.fromClient(tenantId, sent);
        // What the stream holds is given back when the response closes, whenever that is: a client gone while
        // the resume is read closed it before this handler could otherwise listen for it.
        const release: Array<() => void> = [];
        const whenClosed = (fn: () => void) => (res.closed ? fn() : release.push(fn));
        res.once('close', () => {
          for (const fn of release.splice(0)) fn();
        });
        // This replica's reader lost changes it had not handed out (it lagged past the shared feed's history):
        // the client resumes by id and gets what it missed, or a snapshot when that is gone too. Listened for
        // before the resume is read: a miss told meanwhile concerns changes the replay and the held ones lack.
        let missed = false;
        whenClosed(
          hub.feed.onMissed(() => {
            missed = true;
            hub.log.debug({ tenantId }, 'this replica missed changes on the shared feed; closing the stream so the client resumes from its last id');
            if (res.headersSent) res.destroy();
          }),
        );
        // Subscribed before anything is written, so a store that cannot answer still gets a clean 503.
        let live = false;
        const held: FeedEvent[] = [];
        const sub = await hub.feed.subscribe(tenantId, (e) => (live ? enqueue(e) : held.push(e)), lastEventId);
        whenClosed(() => sub.close());
        if (res.closed) return undefined;
        res.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-cache, no-transform',
          Connection: 'keep-alive',
          'X-Accel-Buffering': 'no',
        });
        res.write('retry: 2000\n\n');
        if (missed) {
          // Told while the resume was read: ended before anything else went out, so it comes back after `retry`.
          res.end();
          return undefined;
        }
        /** With `?team=`: the people this client was shown as members, so one who leaves gets `removed`. */
        let team: Set<string> | undefined;
        const frame = (event: string, data: unknown, feedId?: string) =>
          `${feedId ? `id: ${ids.toClient(tenantId, feedId)}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
        // A key revoked while it streams (or deleted with its person or tenant), on whichever replica, gets
        // no change after that: it is looked up again with every lot of changes and at every keep-alive, and
        // the stream ends, so the client's reconnection is refused (401).
        let keyLookup: Promise<boolean> | undefined;
        const keyHolds = () =>
          (keyLookup ??= hub.store.directory
            .get('apiKeys', tenantId, principal.kind === 'key' ? principal.keyId : '')
            .then((k) => k !== undefined)
            .finally(() => (keyLookup = undefined)));
        // Events are queued until the snapshot or replay is out, then written strictly in order, a tick's
        // worth per write. Each person is looked up as the event is queued, so look-ups overlap; the key once a lot.
        const out = new TickWriter<FeedEvent, Person | undefined, boolean>({
          lookup: (e) => (e.presence ? hub.store.directory.get('people', tenantId, e.personId) : undefined),
          lotLookup: keyHolds,
          render(e, person, keyHeld) {
            if (!keyHeld) {
              res.end();
              return '';
            }
            // With a team, `removed` also says someone left it (the directory change shows they are out).
            if (!e.presence) return !team || team.delete(e.personId) ? frame('removed', { personId: e.personId }, e.id) : '';
            if (!person) return '';
            if (team && query.team) {
              if (!person.teams.includes(query.team)) return team.delete(person.id) ? frame('removed', { personId: person.id }, e.id) : '';
              team.add(person.id);
            }
            const presence = e.presence;
            const kind = viewKind(principal, person);
            // A directory edit is news to everyone; a new state only to those who can tell it apart.
            if (!e.cause && unchangedFor(kind, presence)) return '';
            return sharedFrame(e, person, kind, () => frame('presence', viewOf(presence, person, principal), e.id));
          },
          write(chunk) {
            if (!res.writableEnded && !res.destroyed) res.write(chunk);
          },
          fail(err) {
            hub.log.warn({ err: (err as Error).message }, 'stream write failed; ending it so the client resumes from its last id');
            // Skipping the change would leave the client on an older state until the person changes again.
            res.end();
          },
        });
        // A consumer that stops reading must not grow our memory: cut it off; it resumes by id. The snapshot is
        // what it asked for, not what it fell behind by: a tenant's snapshot may exceed the allowance by itself
        // (tens of thousands of people), and counting it cut every new client off at its first change.
        let snapshotBytes = 0;
        const tooFarBehind = () => res.writableLength > hub.config.feed.maxBufferedBytes + snapshotBytes || out.pending > hub.config.feed.bufferEvents;
        const cutOff = () => {
          hub.log.warn({ tenantId, buffered: res.writableLength, pending: out.pending }, 'stream client too far behind; closing it so it resumes from its last id');
          res.destroy();
        };
        const enqueue = (e: FeedEvent) => {
          // An address change (extension, SIP URI) is for publishers: no stream shows it.
          if (res.destroyed || e.cause === 'address' || (query.person && e.personId !== query.person)) return;
          if (tooFarBehind()) return cutOff();
          out.push(e);
        };
        hub.metrics.streamClients.inc();
        whenClosed(() => hub.metrics.streamClients.dec());
        const keepalive = setInterval(() => {
          // A store that cannot answer now says nothing about the key: the keep-alive still goes.
          void keyHolds()
            .catch(() => true)
            .then((held) => (!held ? res.end() : !res.writableEnded && res.write(': keepalive\n\n')));
        }, hub.config.feed.keepaliveMs);
        keepalive.unref();
        whenClosed(() => clearInterval(keepalive));
        let seen = new Set<string>();
        const fresh = sub.replay === 'reset' || lastEventId === undefined;
        const people = fresh || query.team ? await peopleOf(hub, tenantId, { team: query.team, person: query.person }) : [];
        if (query.team) team = new Set(people.map((p) => p.id));
        if (fresh) {
          // `at`: the server's instant, so a client whose clock is off still shows ends and durations right.
          const first = frame('snapshot', { at: new Date(hub.clock.now()).toISOString(), presence: await snapshot(hub, principal, people) });
          snapshotBytes = Buffer.byteLength(first);
          res.write(first);
        } else if (sub.replay !== 'reset') {
          seen = new Set(sub.replay.map((e) => e.id));
          // The client may have been shown someone who left the team, or was deleted, while it was away: they are
          // `removed`. Only a directory edit moves anyone between teams, so no other change it missed is about such a one.
          for (const e of [...sub.replay, ...held]) if (e.cause === 'directory' || !e.presence) team?.add(e.personId);
          for (const e of sub.replay) enqueue(e);
        }
        for (const e of held) if (!seen.has(e.id)) enqueue(e);
        live = true;
        return undefined;
      },
    }),
  ];
}
