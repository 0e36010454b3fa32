// Error answers in the Anthropic format, so the client classifies them exactly like real ones
// (e.g. 529 overloaded_error is retried with the overload back-off).

const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export function errorType(status: number): string {
  return TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

export function errorBody(
  status: number,
  type: string | undefined,
  message: string | undefined,
  requestId?: string,
): Record<string, unknown> {
  const t = type ?? errorType(status);
  return {
    type: 'error',
    error: { type: t, message: message ?? `scripted ${t} (HTTP ${status})` },
    ...(requestId === undefined ? {} : { request_id: requestId }),
  };
}
