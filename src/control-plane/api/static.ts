/**
 * The web page (docs/web.md): the files `npm run build` bundles into `dist/web/`, served at `/`
 * from the API's own origin. Everything else (`/api/…`, `/health`) goes to the router.
 *
 * Every answer carries a strict Content-Security-Policy: scripts and styles only from this
 * origin (no inline script, no eval), no plugins, no framing, sockets to this host only. The
 * hashed assets are immutable; `index.html` is never cached, so a new build is seen at once.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

interface Asset {
  body: Buffer;
  type: string;
  immutable: boolean;
}

/** The built page's directory: `dist/web` next to `dist/src`. */
export function defaultWebDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');
}

/**
 * Serves the page's files, read once at start (a few hundred kB). Returns false for any path it
 * does not own, so the caller hands the request on.
 */
export class StaticSite {
  private readonly assets = new Map<string, Asset>();

  constructor(dir: string = defaultWebDir()) {
    if (!existsSync(dir)) return;
    for (const file of readdirSync(dir, { recursive: true, withFileTypes: false }) as string[]) {
      const full = path.join(dir, file);
      const type = TYPES[path.extname(file)];
      if (!type || !existsSync(full)) continue;
      const rel = `/${file.split(path.sep).join('/')}`;
      // Bundles are named by their content's hash (`app-3F2A….js`): safe to cache for a year.
      this.assets.set(rel, {
        body: readFileSync(full),
        type,
        immutable: /-[A-Z0-9]{8,}\.(js|css)$/.test(file),
      });
    }
  }

  get available(): boolean {
    return this.assets.has('/index.html');
  }

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const pathname = (req.url ?? '/').split(/[?#]/)[0]!;
    if (pathname.startsWith('/api/') || pathname === '/health') return false;
    const asset = this.assets.get(pathname === '/' ? '/index.html' : pathname);
    if (!asset) {
      if (pathname !== '/') return false;
      send(res, 503, 'text/plain; charset=utf-8', Buffer.from(NOT_BUILT), 'no-store');
      return true;
    }
    send(
      res,
      200,
      asset.type,
      req.method === 'HEAD' ? undefined : asset.body,
      asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      asset.body.length,
    );
    return true;
  }
}

const NOT_BUILT =
  'The web page is not built: run "npm run build" (it bundles web/ into dist/web/).\n';

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: Buffer | undefined,
  cache: string,
  length = body?.length ?? 0,
): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': String(length),
    'cache-control': cache,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  res.end(body);
}
