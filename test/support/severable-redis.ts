import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP relay to a Redis on 127.0.0.1, for one replica's connections only: `sever` closes them and refuses
 * new ones (that replica is cut off, a network partition) while Redis runs on for everyone else; `heal`
 * lets them through again on the same port.
 */
export async function severableRedis(redisPort: number): Promise<{ url: string; sever(): void; heal(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let severed = false;
  const server = createServer((client) => {
    if (severed) return void client.destroy();
    const upstream = connect(redisPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    sever: () => {
      severed = true;
      for (const s of sockets) s.destroy();
    },
    heal: () => {
      severed = false;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
