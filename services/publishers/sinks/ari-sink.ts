import type { AriTarget } from '../../../shared/domain/target.js';
import { asteriskDeviceState } from '../ari-mapping.js';
import { expectSuccess, type HttpTargetClient } from '../http-client.js';
import type { Delivery, Sink } from '../sink.js';

/** Asterisk ARI device state: `PUT /ari/deviceStates/{name}?deviceState=…` with basic auth. */
export class AriSink implements Sink {
  private readonly auth: string;
  /** The name last used per person, so a removal reaches the same device after the person is gone. */
  private readonly names = new Map<string, string>();

  constructor(
    private readonly target: AriTarget,
    password: string,
    private readonly client: HttpTargetClient,
  ) {
    this.auth = `Basic ${Buffer.from(`${target.username}:${password}`).toString('base64')}`;
  }

  deviceName(d: Delivery): string {
    if (!d.person) return this.names.get(d.personId) ?? this.target.deviceName.replaceAll(/\{(personId|extension)\}/g, d.personId);
    const name = this.target.deviceName.replaceAll('{personId}', d.personId).replaceAll('{extension}', d.person.extension ?? d.personId);
    this.names.set(d.personId, name);
    return name;
  }

  async deliver(d: Delivery): Promise<void> {
    // A colon is a legal path character (RFC 3986 pchar); keep `Stasis:` readable as Asterisk documents it.
    const name = encodeURIComponent(this.deviceName(d)).replaceAll('%3A', ':');
    const url = new URL(`ari/deviceStates/${name}`, this.target.baseUrl.endsWith('/') ? this.target.baseUrl : `${this.target.baseUrl}/`);
    url.searchParams.set('deviceState', asteriskDeviceState(d.presence, d.person));
    const res = await this.client.request('PUT', url, { Authorization: this.auth });
    expectSuccess(res, 'Asterisk ARI');
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
