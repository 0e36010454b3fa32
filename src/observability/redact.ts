/**
 * Secret redaction, by value and by pattern.
 *
 * By value: every secret the process was given (API keys, bot token, git tokens, Langfuse keys,
 * Vertex token) is replaced wherever it appears, even inside text the model produced.
 * By pattern: well-known token shapes are replaced even when we were never told the value
 * (a token the agent found in a file, a credential in a URL).
 *
 * Values shorter than MIN_SECRET_LENGTH are not redacted by value: replacing every "abc" in a
 * session's output would destroy it, and such a value is not a credential anyone issues.
 */

export const REDACTED = '[REDACTED]';
export const MIN_SECRET_LENGTH = 8;

/** Token shapes issued by the services this runner talks to. Each is a complete token. */
const TOKEN_PATTERNS: readonly string[] = [
  'sk-ant-[A-Za-z0-9_-]{8,}',
  '[sp]k-lf-[A-Za-z0-9_-]{8,}',
  'gh[pousr]_[A-Za-z0-9]{20,}',
  'github_pat_[A-Za-z0-9_]{20,}',
  'glpat-[A-Za-z0-9_-]{20,}',
  'ya29\\.[A-Za-z0-9_.-]{20,}',
  'AKIA[0-9A-Z]{16}',
  'xox[abprs]-[A-Za-z0-9-]{10,}',
  '-----BEGIN [A-Z ]*PRIVATE KEY-----[\\s\\S]*?-----END [A-Z ]*PRIVATE KEY-----',
];

/** Shapes where a prefix stays readable and only the credential part goes. */
const PREFIXED_PATTERNS: readonly { re: string; keep: number }[] = [
  // "Authorization: Bearer abc…" -> "Bearer [REDACTED]"
  { re: '(Bearer\\s+)[A-Za-z0-9._~+/=-]{8,}', keep: 1 },
  // "Basic dXNlcjpwYXNz" -> "Basic [REDACTED]"
  { re: '(Basic\\s+)[A-Za-z0-9+/=]{12,}', keep: 1 },
  // "https://user:password@host" -> "https://[REDACTED]@host"
  // The scheme is optional, so a stream split right after it ("https" | "://u:p@h")
  // still redacts the credential in the later piece; and "@" is only looked at, not replaced, so
  // the host stays readable as documented above ("https://[REDACTED]@host", not "…]host").
  // The scheme may start only where a scheme can (the lookbehind): otherwise every position of a
  // long run of letters and digits would rescan the run, quadratic in its length.
  { re: '((?:(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*)?://)[^\\s/@:]+:[^\\s/@]+(?=@)', keep: 1 },
];

/** Markers that begin a token; used to hold back a streamed tail that may become a secret. */
const STREAM_MARKERS = [
  'sk-ant-',
  'sk-lf-',
  'pk-lf-',
  'ghp_',
  'gho_',
  'ghu_',
  'ghs_',
  'ghr_',
  'github_pat_',
  'glpat-',
  'ya29.',
  'AKIA',
  'xoxb-',
  'xoxp-',
  'Bearer ',
  'Basic ',
  '-----BEGIN',
];
const TOKEN_CHARS = '[A-Za-z0-9._~+/=-]';

/**
 * A secret as it may appear once rendered: as is, JSON-escaped (`\u0000`, `\"`; also twice, for
 * JSON inside JSON), as Node's inspect shows it in an error message (`\x00`, `\'`), with its
 * quotes backslash-escaped, and URL-encoded. A value with odd characters cannot slip through a
 * rendering that escapes them.
 */
export function escapedForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  // util.inspect: backslashes doubled, control characters as \n or \xNN; a single quote is
  // escaped only when it quotes with single quotes (it picks " or ` when the value has ').
  // eslint-disable-next-line no-control-regex -- control characters are what is escaped
  const inspected = value.replace(/\\/g, '\\\\').replace(/[\u0000-\u001f\u007f]/g, (c) => {
    const named: Record<string, string> = {
      '\n': '\\n',
      '\t': '\\t',
      '\r': '\\r',
      '\b': '\\b',
      '\f': '\\f',
      '\v': '\\v',
    };
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`;
  });
  const lowerHex = (s: string) =>
    s.replace(/\\x([0-9A-F]{2})/g, (_m, h: string) => `\\x${h.toLowerCase()}`);
  const forms = [
    value,
    json,
    JSON.stringify(json).slice(1, -1),
    inspected,
    inspected.replace(/'/g, "\\'"),
    lowerHex(inspected),
    lowerHex(inspected.replace(/'/g, "\\'")),
    value.replace(/["'\\]/g, '\\$&'),
    encodeURIComponent(value),
    encodeURIComponent(value).replace(/%20/g, '+'),
  ];
  return [...new Set(forms)];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class Redactor {
  private values: string[] = [];
  private valueRe: RegExp | null = null;
  private readonly tokenRe: RegExp;
  private readonly prefixedRe: RegExp;

  constructor(secrets: Iterable<string | undefined | null> = []) {
    this.add(...secrets);
    this.tokenRe = new RegExp(TOKEN_PATTERNS.join('|'), 'g');
    this.prefixedRe = new RegExp(PREFIXED_PATTERNS.map((p) => p.re).join('|'), 'g');
  }

  /**
   * Learns more secret values (e.g. a git token minted at run time). Everything sharing this
   * redactor, open streams included, redacts them from now on.
   */
  add(...more: (string | undefined | null)[]): this {
    const unique = new Set(this.values);
    for (const s of more) if (s && s.length >= MIN_SECRET_LENGTH) unique.add(s);
    if (unique.size === this.values.length) return this;
    this.values = [...unique].sort((a, b) => b.length - a.length);
    // Every rendering of each value, longest first, so a secret that contains another (or a form
    // that contains the plain value) is replaced whole.
    const forms = new Set(this.values.flatMap(escapedForms));
    this.valueRe = new RegExp(
      [...forms]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|'),
      'g',
    );
    return this;
  }

  /** A new redactor that also knows these values; this one is unchanged. */
  with(...more: (string | undefined)[]): Redactor {
    return new Redactor([...this.values, ...more]);
  }

  get secretValues(): readonly string[] {
    return this.values;
  }

  redact(text: string): string {
    let out = text;
    if (this.valueRe) out = out.replace(this.valueRe, REDACTED);
    out = out.replace(this.tokenRe, REDACTED);
    out = out.replace(this.prefixedRe, (match: string, ...groups: unknown[]) => {
      const prefix = groups.slice(0, PREFIXED_PATTERNS.length).find((g) => typeof g === 'string');
      return typeof prefix === 'string' ? `${prefix}${REDACTED}` : REDACTED;
    });
    return out;
  }

  /** Redacts every string inside a JSON-like value; returns a new value, leaves the input alone. */
  redactDeep<T>(value: T): T {
    return this.walk(value) as T;
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((v) => this.walk(v));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.walk(v);
      return out;
    }
    return value;
  }

  /** Length of the longest tail of `text` that could still grow into a secret. */
  heldTailLength(text: string): number {
    let held = 0;
    for (const v of this.values) held = Math.max(held, longestSuffixThatIsPrefix(text, v));
    for (const m of STREAM_MARKERS) held = Math.max(held, longestSuffixThatIsPrefix(text, m));
    // A marker already complete, followed by token characters: the token may go on.
    const window = text.slice(-4096);
    // "Bearer"/"Basic" may be followed by any run of whitespace (the patterns use
    // \s+); a URL may be split before, inside or right after "://" (a trailing ":" or ":/" is held with the
    // scheme character before it); a PEM private key is held from its header until its END line.
    const tail = new RegExp(
      `(?:${STREAM_MARKERS.map(escapeRegExp)
        .map((m) => m.replace(/ $/, '\\s+'))
        .join('|')})${TOKEN_CHARS}*$` +
        `|(?:(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*)?://[^\\s/@]*$|[a-z0-9+.-]:/{0,2}$` +
        `|-----BEGIN[A-Z ]*-{0,5}$|-----BEGIN [A-Z ]*PRIVATE KEY-----(?:(?!-----END [A-Z ]*PRIVATE KEY-----)[\\s\\S])*$`,
    ).exec(window);
    if (tail) held = Math.max(held, tail[0].length);
    return held;
  }

  /**
   * Where to cut `text` so that no complete secret straddles the cut. The held tail
   * can begin inside a secret that is already whole (e.g. its last characters also begin another
   * secret or a marker: "…secretA" + "nother…"); redacting the two sides apart would leak it.
   */
  safeCut(text: string, cut: number): number {
    for (let moved = true; moved;) {
      moved = false;
      for (const re of [this.valueRe, this.tokenRe, this.prefixedRe]) {
        if (!re) continue;
        for (const m of text.matchAll(re)) {
          if (m.index < cut && m.index + m[0].length > cut) {
            cut = m.index;
            moved = true;
          }
        }
      }
    }
    return cut;
  }

  /** A redactor for text that arrives in pieces (see StreamRedactor). */
  stream(): StreamRedactor {
    return new StreamRedactor(this);
  }
}

function longestSuffixThatIsPrefix(text: string, candidate: string): number {
  const max = Math.min(text.length, candidate.length);
  for (let k = max; k > 0; k--) {
    if (text.endsWith(candidate.slice(0, k))) return k;
  }
  return 0;
}

/**
 * Redacts streamed text whose secrets may be split across chunks. It holds back only the tail
 * that could still become a secret (usually nothing, or one character), so output stays live.
 */
export class StreamRedactor {
  private held = '';
  constructor(private readonly redactor: Redactor) {}

  push(chunk: string): string {
    const text = this.held + chunk;
    const hold = Math.min(this.redactor.heldTailLength(text), 4096);
    const cut = this.redactor.safeCut(text, text.length - hold); // see safeCut
    this.held = text.slice(cut);
    const ready = text.slice(0, cut);
    return ready ? this.redactor.redact(ready) : '';
  }

  end(): string {
    const rest = this.held;
    this.held = '';
    return rest ? this.redactor.redact(rest) : '';
  }
}
