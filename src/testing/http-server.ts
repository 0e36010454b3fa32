// Listen/close for the stand-in HTTP servers (scripted model, Langfuse, git and forge stand-ins): bind,
// report a URL a client can dial, and close without waiting on keep-alive or mid-stream sockets.
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ListenOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Runs once, before the server stops accepting and its sockets are destroyed. */
  beforeClose?: () => void;
}

export interface ListeningHttpServer {
  url: string;
  /** Idempotent: every call returns the same promise. */
  close(): Promise<void>;
}

export async function listenHttp(
  handler: RequestListener,
  opts: ListenOptions = {},
): Promise<ListeningHttpServer> {
  const sockets = new Set<Socket>();
  const server = createServer(handler);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  // A wildcard bind is still reached through loopback; IPv6 literals need brackets in URLs.
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        opts.beforeClose?.();
        server.close(() => resolve());
        // Keep-alive and mid-stream sockets would otherwise hold close() open.
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
