import type { TestHub, PbxKey } from './hub.js';

export interface Member {
  id: string;
  extension?: string;
  sensitive?: boolean;
  skills?: Record<string, number>;
  timeZone?: string;
  /** The desk phone's SIP URI; `sip:<id>@192.0.2.10` by default. */
  contact?: string;
  /** Leave the desk phone unregistered. */
  offline?: boolean;
}

/** Creates people with a registered desk phone each, and a PBX key; returns the key. */
export async function seedMembers(h: TestHub, members: readonly Member[]): Promise<PbxKey> {
  const key = await h.post('/v1/keys', { name: 'pbx', role: 'pbx' }).expect(201);
  const pbx: PbxKey = { signingKeyId: key.body.signingKeyId, secret: key.body.secret };
  const events: unknown[] = [];
  for (const [i, m] of members.entries()) {
    const name = m.id[0]!.toUpperCase() + m.id.slice(1);
    await h
      .put(`/v1/people/${m.id}`, {
        name,
        extension: m.extension ?? String(1001 + i),
        sensitive: m.sensitive ?? false,
        skills: m.skills ?? {},
        timeZone: m.timeZone ?? 'UTC',
      })
      .expect(201);
    await h.put(`/v1/people/${m.id}/devices/${m.id}-desk`, { kind: 'desk', contact: m.contact ?? `sip:${m.id}@192.0.2.10` }).expect(201);
    if (!m.offline) events.push({ type: 'registered', device: `${m.id}-desk`, at: h.clock.now() - 1000 });
  }
  if (events.length > 0) await h.pbx(events, pbx).expect(200);
  return pbx;
}

/** Who is rung first, by person id. */
export const firstRung = (body: { ring: Array<{ personId: string; step: number }> }) => body.ring.find((r) => r.step === 0)?.personId;
