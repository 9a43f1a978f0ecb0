import { SipParseError } from './errors.js';

export type Params = Readonly<Record<string, string>>;

/** A From/To/Contact/Route value (RFC 3261 §20.10): `"Name" <uri>;tag=x` or `uri;tag=x`. */
export interface NameAddress {
  displayName?: string;
  uri: string;
  /** Header parameters (after the URI), names lower-cased; a flag without value maps to ''. */
  params: Params;
}

function unquote(text: string): string {
  return text.startsWith('"') && text.endsWith('"') && text.length >= 2
    ? text.slice(1, -1).replace(/\\(.)/g, '$1')
    : text;
}

/** `;a=b;flag;c="x;y"` → `{ a: 'b', flag: '', c: 'x;y' }`. */
export function parseParams(text: string): Params {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  eachParam(text, (name, value) => {
    params[name] = value;
  });
  return params;
}

/** `parseParams(text)[name]` (`name` lower-case) without building the others. */
export function paramOf(text: string, name: string): string | undefined {
  let found: string | undefined;
  eachParam(text, (n, value) => {
    if (n === name) found = value;
  });
  return found;
}

/** Calls `fn` with each parameter's lower-cased name and unquoted value, in order; splits at `;` outside quotes. */
function eachParam(text: string, fn: (name: string, value: string) => void): void {
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (quoted) {
      if (ch === BACKSLASH) i++;
      else if (ch === QUOTE) quoted = false;
    } else if (ch === QUOTE) quoted = true;
    else if (ch === SEMICOLON) {
      param(text.slice(start, i).trim(), fn);
      start = i + 1;
    }
  }
  param(text.slice(start).trim(), fn);
}

const BACKSLASH = 92;
const QUOTE = 34;
const SEMICOLON = 59;

function param(part: string, fn: (name: string, value: string) => void): void {
  if (!part) return;
  const eq = part.indexOf('=');
  const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
  if (name) fn(name, eq < 0 ? '' : unquote(part.slice(eq + 1).trim()));
}

export function parseNameAddress(value: string): NameAddress {
  const text = value.trim();
  let displayName: string | undefined;
  let rest = text;
  if (text.startsWith('"')) {
    const close = /^"((?:[^"\\]|\\.)*)"/.exec(text);
    if (!close) throw new SipParseError(`unterminated display name in ${value}`);
    displayName = (close[1] ?? '').replace(/\\(.)/g, '$1');
    rest = text.slice(close[0].length).trim();
    if (!rest.startsWith('<')) throw new SipParseError(`display name without <uri> in ${value}`);
  }
  const open = rest.indexOf('<');
  if (open >= 0) {
    const close = rest.indexOf('>', open);
    if (close < 0) throw new SipParseError(`unterminated <uri> in ${value}`);
    const name = rest.slice(0, open).trim();
    if (displayName === undefined && name) displayName = name;
    const uri = rest.slice(open + 1, close).trim();
    if (!uri.includes(':')) throw new SipParseError(`not a URI: ${uri}`);
    return { displayName, uri, params: parseParams(rest.slice(close + 1).replace(/^\s*;/, '')) };
  }
  // Without angle brackets, everything after the first ';' belongs to the header, not the URI.
  const semi = rest.indexOf(';');
  const uri = (semi < 0 ? rest : rest.slice(0, semi)).trim();
  if (!uri.includes(':') || /\s/.test(uri)) throw new SipParseError(`not a URI: ${uri}`);
  return { uri, params: semi < 0 ? {} : parseParams(rest.slice(semi + 1)) };
}

/** The `tag` parameter of a From or To value, or undefined (also for malformed values). */
export function tagOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return parseNameAddress(value).params['tag'] || undefined;
  } catch (error) {
    if (error instanceof SipParseError) return undefined;
    throw error;
  }
}
