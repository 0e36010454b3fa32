// Recorded requests end up in test output and logs, so credentials are masked there; a hint of
// the value is kept so a test can still tell which kind of credential arrived.

const SECRET_HEADERS = new Set([
  'x-api-key',
  'authorization',
  'proxy-authorization',
  'x-goog-api-key',
  'cookie',
]);

export function redactValue(name: string, value: string): string {
  if (name === 'authorization' || name === 'proxy-authorization') {
    const scheme = /^(\S+)\s+\S/.exec(value)?.[1];
    return scheme ? `${scheme} [REDACTED]` : '[REDACTED]';
  }
  // Short values would be mostly revealed by a prefix.
  return value.length > 12 ? `${value.slice(0, 4)}[REDACTED]` : '[REDACTED]';
}

export function redactHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    out[name] = SECRET_HEADERS.has(name) ? redactValue(name, value) : value;
  }
  return out;
}
