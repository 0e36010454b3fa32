// Turns stored OTLP spans into Langfuse's read model (traces and observations), reading the
// `langfuse.*` span attributes the Langfuse SDKs set, the way Langfuse's OTel ingestion does:
// observation id = span id, parent = parent span id, trace attributes merged over all spans.
import type { AttrValue, OtlpSpan } from './otlp.js';

export type ObservationType =
  | 'SPAN'
  | 'GENERATION'
  | 'EVENT'
  | 'AGENT'
  | 'TOOL'
  | 'CHAIN'
  | 'RETRIEVER'
  | 'EVALUATOR'
  | 'EMBEDDING'
  | 'GUARDRAIL';

/** Langfuse's ObservationsView (public API v1), plus the v2 fields (sessionId, userId, tags…). */
export interface StandinObservation {
  id: string;
  traceId: string;
  projectId: string;
  parentObservationId: string | null;
  type: ObservationType;
  name: string;
  startTime: string;
  endTime: string | null;
  completionStartTime: string | null;
  model: string | null;
  providedModelName: string | null;
  modelParameters: Record<string, unknown>;
  input: unknown;
  output: unknown;
  metadata: Record<string, unknown>;
  level: 'DEBUG' | 'DEFAULT' | 'WARNING' | 'ERROR';
  statusMessage: string | null;
  version: string | null;
  environment: string;
  usageDetails: Record<string, number>;
  costDetails: Record<string, number>;
  totalCost: number;
  usage: { input: number; output: number; total: number; unit: 'TOKENS' };
  promptId: null;
  promptName: null;
  promptVersion: null;
  latency: number | null;
  timeToFirstToken: number | null;
  sessionId: string | null;
  userId: string | null;
  tags: string[];
  release: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Langfuse's TraceWithDetails (public API v1). */
export interface StandinTrace {
  id: string;
  projectId: string;
  name: string | null;
  timestamp: string;
  input: unknown;
  output: unknown;
  sessionId: string | null;
  userId: string | null;
  release: string | null;
  version: string | null;
  environment: string;
  metadata: Record<string, unknown>;
  tags: string[];
  public: boolean;
  bookmarked: boolean;
  htmlPath: string;
  latency: number;
  totalCost: number;
  observations: string[];
  scores: string[];
  createdAt: string;
  updatedAt: string;
}

/** Per-unit prices by model and usage key, for a Langfuse-style cost computation. */
export type PriceTable = Record<string, Record<string, number>>;

export const STANDIN_PROJECT_ID = 'standin-project';

const TYPE_NAMES: Record<string, ObservationType> = {
  span: 'SPAN',
  generation: 'GENERATION',
  event: 'EVENT',
  agent: 'AGENT',
  tool: 'TOOL',
  chain: 'CHAIN',
  retriever: 'RETRIEVER',
  evaluator: 'EVALUATOR',
  embedding: 'EMBEDDING',
  guardrail: 'GUARDRAIL',
};

function nanosToIso(n: string): string {
  return new Date(Number(BigInt(n) / 1_000_000n)).toISOString();
}

function nanosToMs(n: string): number {
  return Number(BigInt(n) / 1_000n) / 1_000;
}

/** Langfuse stores strings that hold JSON as the JSON value. */
function parseMaybeJson(v: AttrValue | undefined): unknown {
  if (typeof v !== 'string') return v ?? null;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

function str(v: AttrValue | undefined): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** `prefix.a` -> {a}, plus `prefix` itself when it holds a JSON object. */
function flattenedMetadata(
  attrs: Record<string, AttrValue>,
  prefix: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const whole = attrs[prefix];
  if (whole !== undefined) {
    const parsed = parseMaybeJson(whole);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(out, parsed);
    else out.metadata = parsed;
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith(`${prefix}.`)) out[k.slice(prefix.length + 1)] = parseMaybeJson(v);
  }
  return out;
}

function tagsOf(v: AttrValue | undefined): string[] {
  if (Array.isArray(v)) return v.filter((t): t is string => typeof t === 'string');
  if (typeof v === 'string') {
    const parsed = parseMaybeJson(v);
    if (Array.isArray(parsed)) return parsed.filter((t): t is string => typeof t === 'string');
    return v.split(',').filter(Boolean);
  }
  return [];
}

function usageOf(v: AttrValue | undefined): Record<string, number> {
  const parsed = parseMaybeJson(v);
  const out: Record<string, number> = {};
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return out;
  for (const [k, n] of Object.entries(parsed as Record<string, unknown>))
    if (typeof n === 'number') out[k] = n;
  if (Object.keys(out).length > 0 && out.total === undefined) {
    out.total = Object.entries(out).reduce((s, [k, n]) => (k === 'total' ? s : s + n), 0);
  }
  return out;
}

/** Trace-level fields merged over all spans of a trace; the root span wins ties. */
export function buildTraces(
  spans: readonly OtlpSpan[],
  observations: readonly StandinObservation[],
): StandinTrace[] {
  const byTrace = new Map<string, OtlpSpan[]>();
  for (const s of spans) {
    const list = byTrace.get(s.traceId) ?? [];
    list.push(s);
    byTrace.set(s.traceId, list);
  }
  const obsByTrace = new Map<string, StandinObservation[]>();
  for (const o of observations) {
    const list = obsByTrace.get(o.traceId) ?? [];
    list.push(o);
    obsByTrace.set(o.traceId, list);
  }
  const out: StandinTrace[] = [];
  for (const [traceId, list] of byTrace) {
    // Roots last so their values win.
    const ordered = [...list].sort((a, b) => Number(!a.parentSpanId) - Number(!b.parentSpanId));
    let name: string | null = null;
    let sessionId: string | null = null;
    let userId: string | null = null;
    let release: string | null = null;
    let version: string | null = null;
    let environment = 'default';
    let input: unknown = null;
    let output: unknown = null;
    const tags = new Set<string>();
    const metadata: Record<string, unknown> = {};
    for (const s of ordered) {
      const a = s.attributes;
      name = str(a['langfuse.trace.name']) ?? name;
      sessionId = str(a['session.id'] ?? a['langfuse.session.id']) ?? sessionId;
      userId = str(a['user.id'] ?? a['langfuse.user.id']) ?? userId;
      release = str(a['langfuse.release']) ?? release;
      version = str(a['langfuse.version']) ?? version;
      environment = str(a['langfuse.environment']) ?? environment;
      if (a['langfuse.trace.input'] !== undefined)
        input = parseMaybeJson(a['langfuse.trace.input']);
      if (a['langfuse.trace.output'] !== undefined)
        output = parseMaybeJson(a['langfuse.trace.output']);
      for (const t of tagsOf(a['langfuse.trace.tags'])) tags.add(t);
      Object.assign(metadata, flattenedMetadata(a, 'langfuse.trace.metadata'));
    }
    const root = list.find((s) => !s.parentSpanId);
    if (root) {
      name ??= root.name;
      if (input === null && root.attributes['langfuse.observation.input'] !== undefined)
        input = parseMaybeJson(root.attributes['langfuse.observation.input']);
      if (output === null && root.attributes['langfuse.observation.output'] !== undefined)
        output = parseMaybeJson(root.attributes['langfuse.observation.output']);
    }
    const starts = list.map((s) => nanosToMs(s.startTimeUnixNano));
    const ends = list.map((s) => nanosToMs(s.endTimeUnixNano));
    const start = Math.min(...starts);
    const obs = obsByTrace.get(traceId) ?? [];
    const now = new Date().toISOString();
    out.push({
      id: traceId,
      projectId: STANDIN_PROJECT_ID,
      name,
      timestamp: new Date(start).toISOString(),
      input,
      output,
      sessionId,
      userId,
      release,
      version,
      environment,
      metadata,
      tags: [...tags].sort(),
      public: false,
      bookmarked: false,
      htmlPath: `/project/${STANDIN_PROJECT_ID}/traces/${traceId}`,
      latency: (Math.max(...ends) - start) / 1000,
      totalCost: obs.reduce((sum, o) => sum + o.totalCost, 0),
      observations: obs.map((o) => o.id),
      scores: [],
      createdAt: now,
      updatedAt: now,
    });
  }
  return out.sort((a, b) => b.timestamp.localeCompare(a.timestamp));
}

/** One observation per span; trace-level fields (session, user, tags) come from its trace. */
export function buildObservations(
  spans: readonly OtlpSpan[],
  prices: PriceTable = {},
): StandinObservation[] {
  const traceInfo = new Map<
    string,
    { sessionId: string | null; userId: string | null; tags: Set<string>; release: string | null }
  >();
  for (const s of spans) {
    const info = traceInfo.get(s.traceId) ?? {
      sessionId: null,
      userId: null,
      tags: new Set<string>(),
      release: null,
    };
    info.sessionId =
      str(s.attributes['session.id'] ?? s.attributes['langfuse.session.id']) ?? info.sessionId;
    info.userId = str(s.attributes['user.id'] ?? s.attributes['langfuse.user.id']) ?? info.userId;
    info.release = str(s.attributes['langfuse.release']) ?? info.release;
    for (const t of tagsOf(s.attributes['langfuse.trace.tags'])) info.tags.add(t);
    traceInfo.set(s.traceId, info);
  }
  return spans.map((s) => {
    const a = s.attributes;
    const typeName = str(a['langfuse.observation.type']);
    const type = (typeName && TYPE_NAMES[typeName.toLowerCase()]) || 'SPAN';
    const usageDetails = usageOf(a['langfuse.observation.usage_details']);
    const model = str(a['langfuse.observation.model.name']);
    const price = model ? prices[model] : undefined;
    const costDetails: Record<string, number> = {};
    if (price) {
      for (const [k, n] of Object.entries(usageDetails))
        if (k !== 'total' && price[k] !== undefined) costDetails[k] = n * price[k]!;
      costDetails.total = Object.values(costDetails).reduce((x, y) => x + y, 0);
    }
    const levelRaw = str(a['langfuse.observation.level']);
    const level =
      levelRaw === 'DEBUG' || levelRaw === 'WARNING' || levelRaw === 'ERROR' ? levelRaw : 'DEFAULT';
    const start = nanosToMs(s.startTimeUnixNano);
    const endNs = s.endTimeUnixNano;
    const completion = str(a['langfuse.observation.completion_start_time']);
    const completionIso = completion ? String(parseMaybeJson(completion)) : null;
    const info = traceInfo.get(s.traceId);
    const now = new Date().toISOString();
    return {
      id: s.spanId,
      traceId: s.traceId,
      projectId: STANDIN_PROJECT_ID,
      parentObservationId: s.parentSpanId ?? null,
      type,
      name: s.name,
      startTime: nanosToIso(s.startTimeUnixNano),
      endTime: endNs !== '0' ? nanosToIso(endNs) : null,
      completionStartTime: completionIso,
      model,
      providedModelName: model,
      modelParameters:
        (parseMaybeJson(a['langfuse.observation.model.parameters']) as Record<
          string,
          unknown
        > | null) ?? {},
      input:
        a['langfuse.observation.input'] !== undefined
          ? parseMaybeJson(a['langfuse.observation.input'])
          : null,
      output:
        a['langfuse.observation.output'] !== undefined
          ? parseMaybeJson(a['langfuse.observation.output'])
          : null,
      metadata: {
        ...flattenedMetadata(a, 'langfuse.observation.metadata'),
        resourceAttributes: s.resource,
        scope: s.scope,
      },
      level,
      statusMessage: str(a['langfuse.observation.status_message']) ?? s.status.message ?? null,
      version: str(a['langfuse.version']),
      environment: str(a['langfuse.environment']) ?? 'default',
      usageDetails,
      costDetails,
      totalCost: costDetails.total ?? 0,
      usage: {
        input: usageDetails.input ?? 0,
        output: usageDetails.output ?? 0,
        total: usageDetails.total ?? 0,
        unit: 'TOKENS',
      },
      promptId: null,
      promptName: null,
      promptVersion: null,
      latency: endNs !== '0' ? (nanosToMs(endNs) - start) / 1000 : null,
      timeToFirstToken: completionIso ? (Date.parse(completionIso) - start) / 1000 : null,
      sessionId: info?.sessionId ?? null,
      userId: info?.userId ?? null,
      tags: [...(info?.tags ?? [])].sort(),
      release: info?.release ?? null,
      createdAt: now,
      updatedAt: now,
    };
  });
}

/** The v2 API's field groups (`?fields=core,basic,…`; default core and basic). */
const V2_GROUPS: Record<string, (keyof StandinObservation)[]> = {
  core: ['id', 'traceId', 'startTime', 'endTime', 'projectId', 'parentObservationId', 'type'],
  basic: ['name', 'level', 'statusMessage', 'version', 'environment', 'userId', 'sessionId'],
  time: ['completionStartTime', 'createdAt', 'updatedAt'],
  io: ['input', 'output'],
  metadata: ['metadata'],
  model: ['providedModelName', 'modelParameters'],
  usage: ['usageDetails', 'costDetails', 'totalCost'],
  prompt: ['promptId', 'promptName', 'promptVersion'],
  metrics: ['latency', 'timeToFirstToken'],
};

export function selectV2Fields(
  o: StandinObservation,
  fields: string | null,
): Record<string, unknown> {
  const groups = new Set([
    'core',
    ...(fields ? fields.split(',').map((f) => f.trim()) : ['basic']),
  ]);
  const out: Record<string, unknown> = {};
  for (const g of groups) for (const k of V2_GROUPS[g] ?? []) out[k] = o[k];
  if (groups.has('basic')) {
    out.bookmarked = false;
    out.public = false;
  }
  if (groups.has('model')) out.internalModelId = null;
  return out;
}
