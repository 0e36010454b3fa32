/**
 * CORS for a front end served from another origin (an AG-UI web client): off unless serve is
 * given `--cors-origin`. Only the configured origins are answered; credentials travel as a bearer
 * header, never as cookies, so no `Access-Control-Allow-Credentials`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const ALLOWED_HEADERS = 'authorization, content-type, accept, last-event-id';
const METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * Adds the CORS headers a request from an allowed origin needs; answers a preflight itself.
 * Returns true when the request was answered (a preflight).
 */
export function applyCors(
  req: IncomingMessage,
  res: ServerResponse,
  origins: readonly string[],
): boolean {
  if (!origins.length) return false;
  const origin = req.headers.origin;
  const allowed =
    origin !== undefined && (origins.includes('*') || origins.includes(origin.replace(/\/$/, '')));
  if (allowed) {
    res.setHeader('access-control-allow-origin', origins.includes('*') ? '*' : origin);
    res.setHeader('vary', 'origin');
    res.setHeader('access-control-expose-headers', 'location, www-authenticate');
  }
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined)
    return false;
  if (allowed) {
    res.setHeader('access-control-allow-methods', METHODS);
    res.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
    res.setHeader('access-control-max-age', '600');
  }
  res.writeHead(allowed ? 204 : 403, { 'content-length': '0' });
  res.end();
  return true;
}
