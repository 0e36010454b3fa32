// Decodes OTLP trace export requests, as JSON (what the Langfuse JS SDK's exporter sends) or as
// protobuf (what the Python SDK and most collectors send), into one plain span shape.
//
// The protobuf side is a small hand-written reader for the few messages of
// opentelemetry/proto/collector/trace/v1/trace_service.proto that a trace export carries
// (field numbers from opentelemetry-proto); no generated code and no protobuf dependency.

export type AttrValue =
  string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  /** Nanoseconds since the epoch, as a decimal string (int64 does not fit a JS number). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, AttrValue>;
  status: { code: number; message?: string };
  events: { name: string; timeUnixNano: string; attributes: Record<string, AttrValue> }[];
  resource: Record<string, AttrValue>;
  scope: { name: string; version?: string };
}

export class OtlpDecodeError extends Error {
  override name = 'OtlpDecodeError';
}

// --- JSON (OTLP/JSON: hex ids, int64 as strings or numbers) ---------------------------------

type J = Record<string, unknown>;

function jsonId(v: unknown, bytes: number): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v)) return v.toLowerCase();
  // Some exporters send ids base64-encoded, as protobuf's JSON mapping would.
  const hex = Buffer.from(v, 'base64').toString('hex');
  if (hex.length === bytes * 2) return hex;
  throw new OtlpDecodeError(`invalid id "${v}"`);
}

function jsonAny(v: unknown): AttrValue {
  if (v === null || typeof v !== 'object') return null;
  const o = v as J;
  if ('stringValue' in o) return String(o.stringValue);
  if ('boolValue' in o) return o.boolValue === true;
  if ('intValue' in o) return int64ToValue(BigInt(String(o.intValue)));
  if ('doubleValue' in o) return Number(o.doubleValue);
  if ('arrayValue' in o) {
    const values = ((o.arrayValue as J | null)?.values ?? []) as unknown[];
    return values.map(jsonAny);
  }
  if ('kvlistValue' in o)
    return jsonAttributes(((o.kvlistValue as J | null)?.values ?? []) as unknown[]);
  if ('bytesValue' in o) return String(o.bytesValue);
  return null;
}

function jsonAttributes(list: unknown): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list as J[])
    if (kv && typeof kv.key === 'string') out[kv.key] = jsonAny(kv.value);
  return out;
}

function jsonTime(v: unknown): string {
  if (typeof v === 'number') return BigInt(Math.trunc(v)).toString();
  if (typeof v === 'string' && /^\d+$/.test(v)) return v;
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const { low, high } = v as { low: number; high: number };
    return ((BigInt(high >>> 0) << 32n) | BigInt(low >>> 0)).toString();
  }
  return '0';
}

export function decodeJsonRequest(body: Buffer): OtlpSpan[] {
  let root: J;
  try {
    root = JSON.parse(body.toString('utf8')) as J;
  } catch (err) {
    throw new OtlpDecodeError(`request body is not JSON: ${(err as Error).message}`);
  }
  const out: OtlpSpan[] = [];
  for (const rs of (Array.isArray(root.resourceSpans) ? root.resourceSpans : []) as J[]) {
    const resource = jsonAttributes((rs.resource as J | undefined)?.attributes);
    for (const ss of (Array.isArray(rs.scopeSpans) ? rs.scopeSpans : []) as J[]) {
      const scopeRaw = (ss.scope ?? {}) as J;
      const scope = {
        name: typeof scopeRaw.name === 'string' ? scopeRaw.name : '',
        ...(typeof scopeRaw.version === 'string' ? { version: scopeRaw.version } : {}),
      };
      for (const s of (Array.isArray(ss.spans) ? ss.spans : []) as J[]) {
        const traceId = jsonId(s.traceId, 16);
        const spanId = jsonId(s.spanId, 8);
        if (!traceId || !spanId) throw new OtlpDecodeError('a span has no traceId or spanId');
        const parentSpanId = jsonId(s.parentSpanId, 8);
        const status = (s.status ?? {}) as J;
        out.push({
          traceId,
          spanId,
          ...(parentSpanId ? { parentSpanId } : {}),
          name: typeof s.name === 'string' ? s.name : '',
          kind: typeof s.kind === 'number' ? s.kind : 0,
          startTimeUnixNano: jsonTime(s.startTimeUnixNano),
          endTimeUnixNano: jsonTime(s.endTimeUnixNano),
          attributes: jsonAttributes(s.attributes),
          status: {
            code: typeof status.code === 'number' ? status.code : 0,
            ...(typeof status.message === 'string' && status.message
              ? { message: status.message }
              : {}),
          },
          events: ((Array.isArray(s.events) ? s.events : []) as J[]).map((e) => ({
            name: typeof e.name === 'string' ? e.name : '',
            timeUnixNano: jsonTime(e.timeUnixNano),
            attributes: jsonAttributes(e.attributes),
          })),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

// --- protobuf -------------------------------------------------------------------------------

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new OtlpDecodeError('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new OtlpDecodeError('varint too long');
    }
  }

  fixed64(): bigint {
    const v = Buffer.from(this.take(8)).readBigUInt64LE(0);
    return v;
  }

  double(): number {
    return Buffer.from(this.take(8)).readDoubleLE(0);
  }

  bytes(): Uint8Array {
    const len = Number(this.varint());
    return this.take(len);
  }

  take(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new OtlpDecodeError('truncated message');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads a tag; returns [field number, wire type]. */
  tag(): [number, number] {
    const t = Number(this.varint());
    return [t >>> 3, t & 7];
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.take(8);
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        this.take(4);
        return;
      default:
        throw new OtlpDecodeError(`unsupported wire type ${wire}`);
    }
  }
}

/** Calls `on(field, wire, reader)` for each field of a message; the callback must consume it. */
function fields(buf: Uint8Array, on: (field: number, wire: number, r: Reader) => boolean): void {
  const r = new Reader(buf);
  while (!r.done) {
    const [field, wire] = r.tag();
    if (!on(field, wire, r)) r.skip(wire);
  }
}

const utf8 = new TextDecoder('utf-8');
const str = (b: Uint8Array): string => utf8.decode(b);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function int64ToValue(v: bigint): number | string {
  const signed = BigInt.asIntN(64, v);
  return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(signed)
    : signed.toString();
}

function pbAny(buf: Uint8Array): AttrValue {
  let value: AttrValue = null;
  fields(buf, (f, w, r) => {
    if (f === 1 && w === 2) value = str(r.bytes());
    else if (f === 2 && w === 0) value = r.varint() !== 0n;
    else if (f === 3 && w === 0) value = int64ToValue(r.varint());
    else if (f === 4 && w === 1) value = r.double();
    else if (f === 5 && w === 2) {
      const values: AttrValue[] = [];
      fields(r.bytes(), (f2, w2, r2) => {
        if (f2 === 1 && w2 === 2) {
          values.push(pbAny(r2.bytes()));
          return true;
        }
        return false;
      });
      value = values;
    } else if (f === 6 && w === 2) {
      const kv: Record<string, AttrValue> = {};
      fields(r.bytes(), (f2, w2, r2) => {
        if (f2 === 1 && w2 === 2) {
          pbKeyValue(r2.bytes(), kv);
          return true;
        }
        return false;
      });
      value = kv;
    } else if (f === 7 && w === 2) value = Buffer.from(r.bytes()).toString('base64');
    else return false;
    return true;
  });
  return value;
}

function pbKeyValue(buf: Uint8Array, into: Record<string, AttrValue>): void {
  let key = '';
  let value: AttrValue = null;
  fields(buf, (f, w, r) => {
    if (f === 1 && w === 2) key = str(r.bytes());
    else if (f === 2 && w === 2) value = pbAny(r.bytes());
    else return false;
    return true;
  });
  into[key] = value;
}

function pbAttributesOf(buf: Uint8Array, attrField: number): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  fields(buf, (f, w, r) => {
    if (f === attrField && w === 2) {
      pbKeyValue(r.bytes(), out);
      return true;
    }
    return false;
  });
  return out;
}

function pbSpan(
  buf: Uint8Array,
  resource: Record<string, AttrValue>,
  scope: OtlpSpan['scope'],
): OtlpSpan {
  const span: OtlpSpan = {
    traceId: '',
    spanId: '',
    name: '',
    kind: 0,
    startTimeUnixNano: '0',
    endTimeUnixNano: '0',
    attributes: {},
    status: { code: 0 },
    events: [],
    resource,
    scope,
  };
  fields(buf, (f, w, r) => {
    if (f === 1 && w === 2) span.traceId = hex(r.bytes());
    else if (f === 2 && w === 2) span.spanId = hex(r.bytes());
    else if (f === 4 && w === 2) {
      const p = hex(r.bytes());
      if (p) span.parentSpanId = p;
    } else if (f === 5 && w === 2) span.name = str(r.bytes());
    else if (f === 6 && w === 0) span.kind = Number(r.varint());
    else if (f === 7 && w === 1) span.startTimeUnixNano = r.fixed64().toString();
    else if (f === 8 && w === 1) span.endTimeUnixNano = r.fixed64().toString();
    else if (f === 9 && w === 2) pbKeyValue(r.bytes(), span.attributes);
    else if (f === 11 && w === 2) {
      const e = { name: '', timeUnixNano: '0', attributes: {} as Record<string, AttrValue> };
      fields(r.bytes(), (f2, w2, r2) => {
        if (f2 === 1 && w2 === 1) e.timeUnixNano = r2.fixed64().toString();
        else if (f2 === 2 && w2 === 2) e.name = str(r2.bytes());
        else if (f2 === 3 && w2 === 2) pbKeyValue(r2.bytes(), e.attributes);
        else return false;
        return true;
      });
      span.events.push(e);
    } else if (f === 15 && w === 2) {
      fields(r.bytes(), (f2, w2, r2) => {
        if (f2 === 2 && w2 === 2) {
          const message = str(r2.bytes());
          if (message) span.status.message = message;
        } else if (f2 === 3 && w2 === 0) span.status.code = Number(r2.varint());
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  if (span.traceId.length !== 32 || span.spanId.length !== 16)
    throw new OtlpDecodeError('a span has an invalid traceId or spanId');
  return span;
}

export function decodeProtobufRequest(body: Uint8Array): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  fields(body, (f, w, r) => {
    if (f !== 1 || w !== 2) return false;
    const rsBuf = r.bytes();
    let resource: Record<string, AttrValue> = {};
    const scopeSpans: Uint8Array[] = [];
    fields(rsBuf, (f2, w2, r2) => {
      if (f2 === 1 && w2 === 2) resource = pbAttributesOf(r2.bytes(), 1);
      else if (f2 === 2 && w2 === 2) scopeSpans.push(r2.bytes());
      else return false;
      return true;
    });
    for (const ssBuf of scopeSpans) {
      let scope: OtlpSpan['scope'] = { name: '' };
      const spans: Uint8Array[] = [];
      fields(ssBuf, (f3, w3, r3) => {
        if (f3 === 1 && w3 === 2) {
          const s: OtlpSpan['scope'] = { name: '' };
          fields(r3.bytes(), (f4, w4, r4) => {
            if (f4 === 1 && w4 === 2) s.name = str(r4.bytes());
            else if (f4 === 2 && w4 === 2) s.version = str(r4.bytes());
            else return false;
            return true;
          });
          scope = s;
        } else if (f3 === 2 && w3 === 2) spans.push(r3.bytes());
        else return false;
        return true;
      });
      for (const sp of spans) out.push(pbSpan(sp, resource, scope));
    }
    return true;
  });
  return out;
}
