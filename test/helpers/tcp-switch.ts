/**
 * A loopback TCP forwarder that can be switched off — open connections cut,
 * new ones refused — and on again on the same port: a backend (blob store,
 * KMS) that goes away and comes back, without restarting it.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpSwitch {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  /** The forwarder's port: 0 until the first `on()`, then the same one each time. */
  port = 0;

  constructor(readonly targetPort: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async on(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  async off(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
