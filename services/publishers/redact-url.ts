/** What stands in for a value that is not shown. */
const HIDDEN = '…';

/** A URL with a scheme and an authority (`https://…`) anywhere in a text, up to a space or a quote. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;

/**
 * A target URL as a status, a log line or an error may show it: without userinfo (`user:password@`) and
 * with every query value and any fragment hidden, since receivers often take a token there
 * (`https://pbx.example.com/hook?token=…`). Scheme, host, port and path stay, to tell which route failed.
 */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not a URL: nothing of it can be told apart from a secret.
    return HIDDEN;
  }
  url.username = '';
  url.password = '';
  const query = url.search.slice(1);
  const hash = url.hash;
  url.search = '';
  url.hash = '';
  let shown = url.href;
  // A part without `=` may be a bare token (`?abc123`).
  if (query) shown += `?${query.split('&').map((p) => (p.includes('=') ? `${p.slice(0, p.indexOf('='))}=${HIDDEN}` : HIDDEN)).join('&')}`;
  if (hash) shown += `#${HIDDEN}`;
  return shown;
}

/** `text` (an error message) with every URL in it redacted as `redactUrl` does. */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (u) => (u.includes('@') || u.includes('?') || u.includes('#') ? redactUrl(u) : u));
}
