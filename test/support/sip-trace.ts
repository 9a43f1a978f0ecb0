import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** One SIP message as SIPp logged it with -trace_msg. */
export interface SipMessage {
  direction: 'sent' | 'received';
  transport: string;
  /** Timestamp text from the trace. */
  time: string;
  raw: string;
  startLine: string;
  /** Request method; undefined for a response. */
  method?: string;
  /** Response status; undefined for a request. */
  status?: number;
  headers: Array<[name: string, value: string]>;
  /** First value of a header, case-insensitive, compact forms understood. */
  header(name: string): string | undefined;
  body: string;
}

// RFC 3261 7.3.3 compact forms.
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
};

export function parseSipMessage(raw: string, meta: Pick<SipMessage, 'direction' | 'transport' | 'time'>): SipMessage {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  // Unfold continuation lines (RFC 3261 7.3.1) before splitting headers.
  const lines = head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
  const startLine = lines.shift() ?? '';
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  const response = /^SIP\/2\.0 (\d{3})/.exec(startLine);
  const canonical = (n: string) => {
    const lower = n.toLowerCase();
    return COMPACT[lower] ?? lower;
  };
  return {
    ...meta,
    raw,
    startLine,
    ...(response ? { status: Number(response[1]) } : { method: startLine.split(' ')[0] }),
    headers,
    header(name) {
      const wanted = canonical(name);
      return headers.find(([n]) => canonical(n) === wanted)?.[1];
    },
    body,
  };
}

// "----…---- 2026-11-22 08:10:49.247221\nUDP message sent (382 bytes):\n\n" or
// "… received [388] bytes :\n\n", then exactly that many bytes, then "\n".
const ENTRY = /-{20,} ([^\n]*)\n(\w+) message (?:(sent) \((\d+) bytes\)|(received) \[(\d+)\] bytes) ?:\n\n/y;
const SEPARATOR = '\n-----';

/**
 * Reads a SIPp message trace incrementally, so a test can look at what a
 * still-running SIPp has exchanged. Entries are taken only once their whole
 * byte count is on disk (SIPp flushes per message, but a read can race a write).
 */
export class SipTraceReader {
  private offset = 0;
  private pending = '';
  private readonly parsed: SipMessage[] = [];

  constructor(private readonly path: string) {}

  /** Reads what was appended since the last call; returns the new messages. */
  poll(): SipMessage[] {
    this.pending += this.readNew();
    const fresh: SipMessage[] = [];
    let pos = 0;
    for (;;) {
      ENTRY.lastIndex = pos;
      const m = ENTRY.exec(this.pending);
      if (!m) {
        // A partial header (wait for more), or something unexpected: skip to the next entry.
        const next = this.pending.indexOf(SEPARATOR, pos + 1);
        if (next < 0) break;
        pos = next + 1;
        continue;
      }
      const size = Number(m[4] ?? m[6]);
      const start = ENTRY.lastIndex;
      if (this.pending.length < start + size) break;
      // latin1 keeps one char per byte for the count; decode the message as UTF-8.
      const raw = Buffer.from(this.pending.slice(start, start + size), 'latin1').toString('utf8');
      fresh.push(parseSipMessage(raw, { time: m[1]!, transport: m[2]!, direction: m[3] ? 'sent' : 'received' }));
      pos = start + size;
      while (this.pending[pos] === '\n') pos++;
    }
    this.pending = this.pending.slice(pos);
    this.parsed.push(...fresh);
    return fresh;
  }

  /** Everything parsed so far (after a final poll). */
  all(): SipMessage[] {
    this.poll();
    return [...this.parsed];
  }

  private readNew(): string {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return ''; // SIPp has not created it yet
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return '';
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      return buf.subarray(0, n).toString('latin1');
    } finally {
      closeSync(fd);
    }
  }
}
