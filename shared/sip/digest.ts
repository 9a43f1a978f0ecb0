import * as crypto from 'node:crypto';
import type { SipRequest, SipResponse } from './message.js';

/** RFC 8760 §2 algorithms and their node:crypto names. */
const HASHES = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' } as const;
type BaseAlgorithm = keyof typeof HASHES;
export type DigestAlgorithm = BaseAlgorithm | `${BaseAlgorithm}-sess`;

const ALGORITHMS: ReadonlyMap<string, DigestAlgorithm> = new Map(
  (Object.keys(HASHES) as BaseAlgorithm[]).flatMap((a): Array<[string, DigestAlgorithm]> => [
    [a.toUpperCase(), a],
    [`${a}-SESS`.toUpperCase(), `${a}-sess`],
  ]),
);

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  /** Only `auth` is supported; absent means the RFC 2069 form without qop. */
  qop?: 'auth';
  /** The nonce expired but the credentials were right (RFC 7616 §3.3). */
  stale: boolean;
}

export interface DigestCredentials {
  username: string;
  password: string;
}

export interface DigestInput {
  method: string;
  uri: string;
  /** Requests sent with this nonce so far, this one included (RFC 7616 §3.4 nc). */
  nc: number;
  cnonce: string;
}

interface AuthItem {
  scheme: string;
  params: Record<string, string>;
}

const AUTH_ITEM = /[\s,]*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?/y;

/** Splits challenge or credential values into schemes and their parameters, several per value allowed. */
function parseAuthItems(values: readonly string[]): AuthItem[] {
  const items: AuthItem[] = [];
  for (const value of values) {
    let current: AuthItem | undefined;
    AUTH_ITEM.lastIndex = 0;
    for (let m = AUTH_ITEM.exec(value); m && m[0].length > 0; m = AUTH_ITEM.exec(value)) {
      const [, token = '', raw] = m;
      if (raw === undefined) {
        current = { scheme: token.toLowerCase(), params: Object.create(null) as Record<string, string> };
        items.push(current);
      } else if (current) {
        current.params[token.toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
      }
    }
  }
  return items;
}

/** The supported Digest challenges in the server's order of preference (RFC 8760 §2.4). */
export function parseChallenges(values: readonly string[]): DigestChallenge[] {
  const challenges: DigestChallenge[] = [];
  for (const { scheme, params } of parseAuthItems(values)) {
    const algorithm = ALGORITHMS.get((params['algorithm'] ?? 'MD5').toUpperCase());
    const qops = params['qop']?.split(',').map((q) => q.trim().toLowerCase());
    const { realm, nonce, opaque } = params;
    if (scheme !== 'digest' || !algorithm || realm === undefined || !nonce) continue;
    if (qops && !qops.includes('auth')) continue;
    challenges.push({
      realm,
      nonce,
      opaque,
      algorithm,
      qop: qops ? 'auth' : undefined,
      stale: params['stale']?.toLowerCase() === 'true',
    });
  }
  return challenges;
}

const hashOf = (challenge: DigestChallenge) => HASHES[challenge.algorithm.replace(/-sess$/, '') as BaseAlgorithm];

/** One-shot `crypto.hash` (Node 20.12+, several times cheaper than a Hash object per digest), else createHash. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
const hex = (algorithm: string, text: string): string =>
  oneShot ? oneShot(algorithm, text, 'hex') : crypto.createHash(algorithm).update(text).digest('hex');

/** H(username:realm:password): the same for every request answering this challenge, so callers may keep it. */
export function digestSecretHash(challenge: DigestChallenge, credentials: DigestCredentials): string {
  return hex(hashOf(challenge), `${credentials.username}:${challenge.realm}:${credentials.password}`);
}

/** The `response` value (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1); `secretHash` is `digestSecretHash`, if known. */
export function digestResponse(
  challenge: DigestChallenge,
  credentials: DigestCredentials,
  input: DigestInput,
  secretHash = digestSecretHash(challenge, credentials),
): string {
  return responseFrom(challenge, secretHash, hex(hashOf(challenge), `${input.method}:${input.uri}`), input);
}

/** The `response` value from H(A1)'s secret part and H(A2). */
function responseFrom(challenge: DigestChallenge, secretHash: string, ha2: string, input: DigestInput): string {
  const hash = hashOf(challenge);
  let ha1 = secretHash;
  if (challenge.algorithm.endsWith('-sess')) ha1 = hex(hash, `${ha1}:${challenge.nonce}:${input.cnonce}`);
  return challenge.qop
    ? hex(hash, `${ha1}:${challenge.nonce}:${ncText(input.nc)}:${input.cnonce}:auth:${ha2}`)
    : hex(hash, `${ha1}:${challenge.nonce}:${ha2}`);
}

const ncText = (nc: number) => nc.toString(16).padStart(8, '0');
const UNQUOTABLE = /["\\]/;
/** A quoted-string; most values (hex cnonces, URIs) have nothing to escape. */
const quote = (text: string) => (UNQUOTABLE.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : `"${text}"`);

/** An Authorization / Proxy-Authorization value; algorithm, qop and nc are tokens, the rest quoted (§25.1). */
export function authorizationValue(
  challenge: DigestChallenge,
  credentials: DigestCredentials,
  input: DigestInput,
  secretHash = digestSecretHash(challenge, credentials),
): string {
  return credentialsText(challenge, credentials.username, input, digestResponse(challenge, credentials, input, secretHash));
}

function credentialsText(challenge: DigestChallenge, username: string, input: DigestInput, response: string): string {
  return `${credentialsPrefix(challenge, username, input.uri)}${response}${credentialsSuffix(challenge, input.nc, input.cnonce)}`;
}

/** Everything before the response hash: the same for every request to one URI under one challenge. */
function credentialsPrefix(challenge: DigestChallenge, username: string, uri: string): string {
  return `Digest username=${quote(username)}, realm=${quote(challenge.realm)}, nonce=${quote(challenge.nonce)}, uri=${quote(uri)}, response="`;
}

function credentialsSuffix(challenge: DigestChallenge, nc: number, cnonce: string): string {
  return challenge.qop ? `${suffixHead(challenge)}${ncText(nc)}, cnonce=${quote(cnonce)}${suffixTail(challenge)}` : suffixHead(challenge) + suffixTail(challenge);
}

/** The suffix up to nc's value (with qop), else up to the opaque: fixed per challenge. */
const suffixHead = (challenge: DigestChallenge) => `", algorithm=${challenge.algorithm}${challenge.qop ? ', qop=auth, nc=' : ''}`;
const suffixTail = (challenge: DigestChallenge) => (challenge.opaque === undefined ? '' : `, opaque=${quote(challenge.opaque)}`);

type AuthHeader = 'Authorization' | 'Proxy-Authorization';

interface Known {
  header: AuthHeader;
  challenge: DigestChallenge;
  nc: number;
  secretHash: string;
  /** H(A2) and the credentials' prefix for the last method and URI signed: a publisher signs the same pair every time. */
  method?: string;
  uri?: string;
  ha2?: string;
  prefix?: string;
  /** The fixed parts of the credentials' suffix. */
  head: string;
  tail: string;
}

/**
 * Remembers challenges per realm so later requests carry credentials up front, counting nc per
 * nonce; a new challenge (or `stale=true`) restarts the count.
 */
export class DigestSession {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly credentials: DigestCredentials,
    private readonly cnonce: () => string,
  ) {}

  /** Forgets every challenge, so the next request goes without credentials and is challenged afresh. */
  reset(): void {
    this.known.clear();
  }

  /** Adds credentials for every remembered challenge. */
  sign(request: SipRequest): void {
    for (const entry of this.known.values()) {
      entry.nc += 1;
      const input = { method: request.method, uri: request.uri, nc: entry.nc, cnonce: this.cnonce() };
      if (entry.method !== input.method || entry.uri !== input.uri || entry.ha2 === undefined || entry.prefix === undefined) {
        entry.method = input.method;
        entry.uri = input.uri;
        entry.ha2 = hex(hashOf(entry.challenge), `${input.method}:${input.uri}`);
        entry.prefix = credentialsPrefix(entry.challenge, this.credentials.username, input.uri);
      }
      const response = responseFrom(entry.challenge, entry.secretHash, entry.ha2, input);
      const nc = entry.challenge.qop ? `${ncText(input.nc)}, cnonce=${quote(input.cnonce)}` : '';
      request.headers.append(entry.header, `${entry.prefix}${response}${entry.head}${nc}${entry.tail}`);
    }
  }

  /**
   * Learns the first supported challenge of a 401/407. False when there is none, or when `request`
   * already carried our credentials for that realm and the nonce is not stale: the password is wrong.
   */
  learn(response: SipResponse, request: SipRequest): boolean {
    const proxy = response.status === 407;
    const header: AuthHeader = proxy ? 'Proxy-Authorization' : 'Authorization';
    const challenge = parseChallenges(response.headers.getAll(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate'))[0];
    if (!challenge) return false;
    const key = `${header} ${challenge.realm}`;
    // Rejected means: our answer to this very nonce was refused. A different nonce means the server
    // forgot or rotated ours (a restart), so answering the new one is worth a try.
    const rejected = parseAuthItems(request.headers.getAll(header)).some(
      (c) => c.params['realm'] === challenge.realm && c.params['nonce'] === challenge.nonce,
    );
    if (rejected && !challenge.stale) {
      this.known.delete(key);
      return false;
    }
    const secretHash = digestSecretHash(challenge, this.credentials);
    this.known.set(key, { header, challenge, nc: 0, secretHash, head: suffixHead(challenge), tail: suffixTail(challenge) });
    return true;
  }
}
