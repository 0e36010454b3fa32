// The test's output, in the seed's step style: a ==== banner, plain step lines, "✓" for a step
// that passed, "✗" for one that failed, and the final ✅/❌ banner. Everything printed goes
// through the redactor (the keys and tokens by value, token shapes by pattern).
import { Redactor } from '../../observability/redact.js';

export const RULE = '='.repeat(60);

export class Report {
  private readonly redactor: Redactor;

  constructor(
    secrets: readonly string[],
    private readonly write: (text: string) => void,
  ) {
    this.redactor = new Redactor(secrets);
  }

  /** Values created during the run (generated keys and tokens) that must not be printed either. */
  addSecrets(...values: string[]): void {
    this.redactor.add(...values);
  }

  line(text = ''): void {
    this.write(`${this.redactor.redact(text)}\n`);
  }

  ok(text: string): void {
    this.line(`✓ ${text}`);
  }

  /** A failed step: its first line after "✗", the rest indented under it. */
  fail(text: string): void {
    const [first, ...rest] = text.split('\n');
    this.line(`✗ ${first}`);
    for (const l of rest) if (l.trim()) this.line(`    ${l}`);
  }

  banner(title: string): void {
    this.line(RULE);
    this.line(title);
    this.line(RULE);
  }

  /** Redacted text, for reasons built from answers of other servers. */
  clean(text: string): string {
    return this.redactor.redact(text);
  }
}

/** `5 seconds`, `1 second`, `0.5 seconds`. */
export function formatSeconds(ms: number): string {
  const s = Math.round(ms / 100) / 10;
  return `${s} second${s === 1 ? '' : 's'}`;
}
