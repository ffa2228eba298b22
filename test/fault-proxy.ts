/**
 * A TCP proxy on 127.0.0.1 for fault injection between a client and a server (the function's
 * BigQuery client and the emulator): it can add latency to every chunk in both directions; lose
 * responses (the request reaches the server and is carried out, then the connection dies before
 * the answer); and cut: destroy every open connection (requests in flight die mid-way) and
 * reset new ones until resumed.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Delay added to each chunk, each way, in milliseconds (0 for none). */
  latencyMs: number;
  /** When true, requests still go through but the connection is reset as the response starts. */
  loseResponses: boolean;
  /** Destroys every open connection and resets new ones until {@link resume}. */
  cut(): void;
  resume(): void;
  /** Connections accepted, and connections destroyed by a cut or refused while cut. */
  readonly stats: { connections: number; cutConnections: number; refused: number; lostResponses: number };
  close(): Promise<void>;
}

/** Starts a proxy to `target` (http://host:port). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(target);
  /** Open client connections and their upstream connections. */
  const open = new Map<Socket, Socket>();
  let cut = false;
  const stats = { connections: 0, cutConnections: 0, refused: 0, lostResponses: 0 };
  const proxy = { latencyMs: 0, loseResponses: false };

  /** Forwards `from` to `to`, keeping order, each chunk after the current latency. */
  const pipe = (from: Socket, to: Socket, response: boolean) => {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (response && proxy.loseResponses) {
        stats.lostResponses++;
        from.destroy();
        if (!to.destroyed) to.resetAndDestroy();
        return;
      }
      const delay = proxy.latencyMs;
      chain = chain.then(() => (delay > 0 ? new Promise((r) => setTimeout(r, delay)) : undefined)).then(() => {
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on('end', () => void chain.then(() => to.end()));
  };

  const server: Server = createServer((client) => {
    if (cut) {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    stats.connections++;
    const upstream = connect(Number(port), hostname);
    open.set(client, upstream);
    const kill = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
    };
    client.on('error', kill).on('close', kill);
    upstream.on('error', kill).on('close', kill);
    pipe(client, upstream, false);
    pipe(upstream, client, true);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return Object.assign(proxy, {
    url,
    stats,
    cut() {
      cut = true;
      for (const [client, upstream] of open) {
        stats.cutConnections++;
        if (!client.destroyed) client.resetAndDestroy();
        upstream.destroy();
      }
      open.clear();
    },
    resume() {
      cut = false;
    },
    close() {
      this.cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
