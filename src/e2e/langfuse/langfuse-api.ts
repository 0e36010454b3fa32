// Reads a session's observations from Langfuse's public API, the way the seed's test finds its
// trace: first `GET /api/public/v2/observations?sessionId=…` (real time on Langfuse v3 with
// ingestion v4), then `GET /api/public/traces?sessionId=…` and each trace's detail
// (`GET /api/public/traces/{id}`, observations included) for servers whose v2 API has no
// sessionId filter or lags behind. Results are filtered by session id here as well: a server
// that ignored an unknown query parameter would otherwise answer with the whole project.

export interface LangfuseTarget {
  host: string;
  publicKey: string;
  secretKey: string;
}

/** The fields of an observation the checks use (both the v2 and the v1 shape). */
export interface ObservationView {
  id?: string;
  traceId?: string;
  type?: string;
  name?: string;
  sessionId?: string | null;
  input?: unknown;
  usageDetails?: Record<string, number> | null;
  usage?: { input?: number | null; output?: number | null } | null;
  promptTokens?: number | null;
}

export interface SessionObservations {
  /** The endpoint that answered with them. */
  via: string;
  /** Found through the traces API because the v2 observations API had none. */
  fallback: boolean;
  traceIds: string[];
  observations: ObservationView[];
}

/** Langfuse refused or could not be reached: retrying cannot help. */
export class LangfuseReadError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'LangfuseReadError';
  }
}

const REQUEST_TIMEOUT_MS = 30_000;
/** v2 field groups: ids and type (core), name and session (basic), prompt (io), usage, model. */
const V2_FIELDS = 'core,basic,io,usage,model';

function transportDetail(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'no answer within 30 s';
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}

function bodyDetail(text: string): string {
  try {
    const j = JSON.parse(text) as { message?: unknown; error?: unknown };
    const m =
      typeof j.message === 'string' ? j.message : typeof j.error === 'string' ? j.error : '';
    if (m) return m.slice(0, 200);
  } catch {
    /* not JSON: the text itself */
  }
  return text.trim().slice(0, 200);
}

interface Answer {
  status: number;
  json: unknown;
  text: string;
}

export class LangfuseReader {
  constructor(
    private readonly target: LangfuseTarget,
    private readonly signal?: AbortSignal,
  ) {}

  private async get(pathAndQuery: string): Promise<Answer> {
    const auth = Buffer.from(`${this.target.publicKey}:${this.target.secretKey}`).toString(
      'base64',
    );
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let res: Response;
    try {
      res = await fetch(`${this.target.host}${pathAndQuery}`, {
        headers: { authorization: `Basic ${auth}`, accept: 'application/json' },
        signal: this.signal ? AbortSignal.any([this.signal, timeout]) : timeout,
      });
    } catch (e) {
      if (this.signal?.aborted) throw this.signal.reason;
      throw new LangfuseReadError(
        `cannot reach Langfuse at ${this.target.host} (${transportDetail(e)}): check LANGFUSE_HOST (and the port-forward, if any)`,
      );
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403)
      throw new LangfuseReadError(
        `Langfuse at ${this.target.host} refused the keys (${res.status}: ${bodyDetail(text)}) for GET ${pathAndQuery.split('?')[0]}: check LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY (the runner must trace into the project of these keys)`,
        res.status,
      );
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  /** Observations of the session, or undefined while Langfuse has none (yet). */
  async sessionObservations(sessionId: string): Promise<SessionObservations | undefined> {
    return (await this.fromV2(sessionId)) ?? (await this.fromTraces(sessionId));
  }

  private async fromV2(sessionId: string): Promise<SessionObservations | undefined> {
    const q = new URLSearchParams({ sessionId, fields: V2_FIELDS, limit: '1000' });
    const a = await this.get(`/api/public/v2/observations?${q}`);
    // A 400 or 404 here is an older Langfuse (no v2 API, or no sessionId filter): fall back.
    if (a.status !== 200) return undefined;
    const data = (a.json as { data?: ObservationView[] } | undefined)?.data;
    if (!Array.isArray(data)) return undefined;
    const mine = data.filter((o) => o.sessionId === sessionId);
    if (!mine.length) return undefined;
    return {
      via: 'GET /api/public/v2/observations?sessionId=…',
      fallback: false,
      traceIds: [...new Set(mine.map((o) => o.traceId).filter((t): t is string => !!t))],
      observations: mine,
    };
  }

  private async fromTraces(sessionId: string): Promise<SessionObservations | undefined> {
    const q = new URLSearchParams({ sessionId, limit: '50' });
    const list = await this.get(`/api/public/traces?${q}`);
    if (list.status !== 200)
      throw new LangfuseReadError(
        `Langfuse answered ${list.status} to GET /api/public/traces?sessionId=… (${bodyDetail(list.text)})`,
        list.status,
      );
    const traces = (
      (list.json as { data?: { id?: string; sessionId?: string | null }[] })?.data ?? []
    )
      .filter((t) => t.sessionId === sessionId && typeof t.id === 'string')
      .slice(0, 10);
    if (!traces.length) return undefined;
    const observations: ObservationView[] = [];
    for (const t of traces) {
      const one = await this.get(`/api/public/traces/${encodeURIComponent(t.id!)}`);
      // The list can run ahead of the detail for a moment: the next attempt will see it.
      if (one.status === 404) continue;
      if (one.status !== 200)
        throw new LangfuseReadError(
          `Langfuse answered ${one.status} to GET /api/public/traces/{id} (${bodyDetail(one.text)})`,
          one.status,
        );
      const obs = (one.json as { observations?: ObservationView[] })?.observations;
      if (Array.isArray(obs))
        observations.push(...obs.map((o) => ({ ...o, traceId: o.traceId ?? t.id! })));
    }
    return {
      via: 'GET /api/public/traces?sessionId=…',
      fallback: true,
      traceIds: traces.map((t) => t.id!),
      observations,
    };
  }
}
