import { paramOf, parseParams, type Params } from './address.js';

/** RFC 3261 §8.1.1.7: a branch starting with this cookie is unique per transaction. */
export const BRANCH_COOKIE = 'z9hG4bK';

export interface Via {
  transport: string;
  /** host[:port] as written. */
  sentBy: string;
  params: Params;
}

const VIA = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;\s]+)\s*(?:;(.*))?$/i;

/** `SIP/2.0/UDP host:port;branch=…`, or undefined when the value is not a Via. */
export function parseVia(value: string | undefined): Via | undefined {
  const match = VIA.exec(value?.trim() ?? '');
  if (!match?.[1] || !match[2]) return undefined;
  return { transport: match[1].toUpperCase(), sentBy: match[2].toLowerCase(), params: parseParams(match[3] ?? '') };
}

/** `parseVia(value)?.params.branch` without building the Via: every response is matched by it. */
export function viaBranch(value: string | undefined): string | undefined {
  const match = VIA.exec(value?.trim() ?? '');
  if (!match?.[1] || !match[2]) return undefined;
  return paramOf(match[3] ?? '', 'branch');
}
