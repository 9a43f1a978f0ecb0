import type { Person } from '../../../shared/domain/directory.js';
import type { AriTarget } from '../../../shared/domain/target.js';
import { asteriskDeviceState, type AsteriskDeviceState } from '../ari-mapping.js';
import { expectSuccess, type HttpTargetClient } from '../http-client.js';
import type { Delivery, Sink } from '../sink.js';

/**
 * Asterisk ARI device state: `PUT /ari/deviceStates/{name}?deviceState=…` with basic auth, only when the
 * device state changes (a sensitive person's change of activity behind the same BUSY must not show, and
 * a directory edit that changes nothing the PBX sees sends nothing).
 */
export class AriSink implements Sink {
  private readonly auth: string;
  /** The device and state last set per person: a removal or a new extension resets the device it was on. */
  private readonly sent = new Map<string, { name: string; state: AsteriskDeviceState | undefined }>();

  constructor(
    private readonly target: AriTarget,
    password: string,
    private readonly client: HttpTargetClient,
  ) {
    this.auth = `Basic ${Buffer.from(`${target.username}:${password}`).toString('base64')}`;
  }

  /** A previous owner set this person's device: a removal or a new extension resets it, though its state is unknown here. */
  adopt(personId: string, person: Person | undefined, address?: string): void {
    const name = address ?? (person ? this.deviceName({ personId, person }) : undefined);
    if (name !== undefined && !this.sent.has(personId)) this.sent.set(personId, { name, state: undefined });
  }

  addressOf(d: Delivery): string | undefined {
    return d.presence ? this.deviceName(d) : undefined;
  }

  deviceName(d: Pick<Delivery, 'personId' | 'person'>): string {
    if (!d.person) return this.sent.get(d.personId)?.name ?? this.target.deviceName.replaceAll(/\{(personId|extension)\}/g, d.personId);
    return this.target.deviceName.replaceAll('{personId}', d.personId).replaceAll('{extension}', d.person.extension ?? d.personId);
  }

  async deliver(d: Delivery): Promise<void | 'unchanged'> {
    const name = this.deviceName(d);
    const state = asteriskDeviceState(d.presence, d.person);
    const last = this.sent.get(d.personId);
    if (d.presence && last?.name === name && last.state === state) return 'unchanged';
    // Until Asterisk answers, the device's state is unknown (a PUT that timed out may have been applied):
    // nothing is held back against it, and a removal still finds the device.
    if (last) this.sent.set(d.personId, { name: last.name, state: undefined });
    await this.put(name, state);
    // Their extension changed: the old device no longer stands for them.
    if (last && last.name !== name && last.state !== 'UNAVAILABLE') await this.put(last.name, 'UNAVAILABLE');
    if (d.presence) this.sent.set(d.personId, { name, state });
    else this.sent.delete(d.personId);
  }

  private async put(deviceName: string, state: AsteriskDeviceState): Promise<void> {
    // A colon is a legal path character (RFC 3986 pchar); keep `Stasis:` readable as Asterisk documents it.
    const name = encodeURIComponent(deviceName).replaceAll('%3A', ':');
    const url = new URL(`ari/deviceStates/${name}`, this.target.baseUrl.endsWith('/') ? this.target.baseUrl : `${this.target.baseUrl}/`);
    url.searchParams.set('deviceState', state);
    const res = await this.client.request('PUT', url, { Authorization: this.auth });
    expectSuccess(res, 'Asterisk ARI');
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
