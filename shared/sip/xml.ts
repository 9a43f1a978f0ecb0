import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type XmlNode = Record<string, unknown>;

/**
 * Reads untrusted XML into plain objects: prefixes dropped (so any namespace prefix works),
 * attributes under `@_name`, text under `#text` when an element also has attributes, and the
 * `arrays` elements always as arrays. Undefined for anything that is not well-formed.
 */
export function readXml(xml: string, arrays: readonly string[]): XmlNode | undefined {
  if (XMLValidator.validate(xml) !== true) return undefined;
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    isArray: (name) => arrays.includes(name),
  });
  try {
    const value: unknown = parser.parse(xml);
    return isNode(value) ? value : undefined;
  } catch {
    // The library rejects some well-formed input (reserved names, entity limits); all of it is unusable to us.
    return undefined;
  }
}

function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An element's text, whether it was read as a plain string or as an object with attributes. */
export function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  return isNode(value) && typeof value['#text'] === 'string' ? value['#text'].trim() : undefined;
}

export function nodesOf(value: unknown): XmlNode[] {
  return Array.isArray(value) ? value.filter(isNode) : isNode(value) ? [value] : [];
}

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF&<>"']/;

/** Escapes markup and drops characters XML 1.0 cannot carry at all (§2.2). */
export function escapeXml(text: string): string {
  // Most text (notes, SIP URIs) needs neither, and a PIDF document is built for every PUBLISH.
  if (!UNSAFE.test(text)) return text;
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}
