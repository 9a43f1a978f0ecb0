import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

/** Writes raw bytes and reads until the server closes the connection. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

describe('requests Node cannot parse get the error document too', () => {
  let h: TestHub;
  let port: number;
  beforeAll(async () => {
    h = await startTestHub();
    port = Number(new URL(await h.listen()).port);
  });
  afterAll(() => h.stop());

  const answer = (text: string) => {
    const [head, body] = text.split('\r\n\r\n');
    return { status: Number(head!.split(' ')[1]), type: /content-type: ([^\r]+)/i.exec(head!)?.[1], error: JSON.parse(body!).error };
  };

  it('a path over the 16 KiB header limit: 431 headers_too_large', async () => {
    const res = answer(await raw(port, `GET /v1/people/${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`));
    expect(res).toEqual({ status: 431, type: 'application/json; charset=utf-8', error: { code: 'headers_too_large', message: expect.any(String) } });
  });

  it('a request line that is not HTTP: 400 malformed_request', async () => {
    const res = answer(await raw(port, 'HELLO THERE\r\n\r\n'));
    expect(res).toMatchObject({ status: 400, error: { code: 'malformed_request' } });
  });

  it('a header with a byte HTTP forbids: 400 malformed_request, and the server still answers', async () => {
    const res = answer(await raw(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n'));
    expect(res).toMatchObject({ status: 400, error: { code: 'malformed_request' } });
    await h.http.get('/healthz').expect(200);
  });
});
