// Shared pieces of the Langfuse tests: a runner configuration pointing at the stand-in, a logger
// that keeps warnings, fixture replay that calls the tracer the way the runner does.
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { readFileSync } from 'node:fs';
import { loadRunnerConfig, type RunnerConfig } from '../../src/config/runner-config.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { Redactor } from '../../src/observability/redact.js';
import type { Tracer } from '../../src/observability/tracing.js';
import type {
  LangfuseStandin,
  StandinObservation,
} from '../../src/testing/langfuse-standin/index.js';
import type { Fixture } from './record-fixtures.js';

export const SESSION_ID = 'sess-langfuse-1';
export const API_KEY = 'sk-ant-api03-TESTONLY-abcdefghijklmnopqrstuvwxyz0123456789';
export const LF_PUBLIC = 'pk-lf-test-0123456789abcdef';
export const LF_SECRET = 'sk-lf-test-fedcba9876543210';

export function configFor(
  standin: { url: string },
  env: Record<string, string> = {},
): Readonly<RunnerConfig> {
  return loadRunnerConfig({
    SESSION_ID,
    WEBSOCKET_URL: 'ws://127.0.0.1:9/api/projects/team-a/sessions/sess-langfuse-1/ws',
    PROMPT: 'Please run the commands',
    ANTHROPIC_API_KEY: API_KEY,
    AGENTIC_SESSION_NAMESPACE: 'team-a',
    USER_ID: 'user 42<script>',
    USER_NAME: 'Ada Lovelace',
    LLM_MODEL: 'claude-sonnet-4-5',
    LANGFUSE_ENABLED: 'true',
    LANGFUSE_HOST: standin.url,
    LANGFUSE_PUBLIC_KEY: LF_PUBLIC,
    LANGFUSE_SECRET_KEY: LF_SECRET,
    LANGFUSE_FLUSH_TIMEOUT: '5',
    ...env,
  });
}

export interface Captured {
  logger: Logger;
  warnings: string[];
  lines: string[];
}

export function captureLogger(config: Readonly<RunnerConfig>): Captured {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    redactor: new Redactor(config.secrets),
    write: (l) => lines.push(l),
  });
  return {
    logger,
    lines,
    get warnings() {
      return lines.filter((l) => / WARN /.test(l));
    },
  };
}

export function depsFor(config: Readonly<RunnerConfig>) {
  const captured = captureLogger(config);
  return {
    deps: { config, logger: captured.logger, redactor: new Redactor(config.secrets) },
    captured,
  };
}

export function loadFixture(name: string): Fixture {
  const url = new URL(`../../../test/observability/fixtures/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Fixture;
}

/**
 * Calls the tracer as the runner does: startTurn when a prompt is submitted, observe for every
 * message, flush after each result (awaited here, so tests can look at the wire between turns).
 */
export async function replay(
  tracer: Tracer,
  fixture: Pick<Fixture, 'prompts' | 'turnStarts' | 'messages'>,
  onResult?: (resultIndex: number) => void | Promise<void>,
): Promise<void> {
  let turn = 0;
  let results = 0;
  for (const [i, m] of fixture.messages.entries()) {
    while (turn < fixture.turnStarts.length && fixture.turnStarts[turn] === i) {
      tracer.startTurn({ text: fixture.prompts[turn] ?? '', turn: turn + 1 });
      turn++;
    }
    tracer.observe(m as SDKMessage);
    if (m.type === 'result') {
      await tracer.flush();
      await onResult?.(results++);
    }
  }
}

export interface UsageTotals {
  input: number;
  output: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export function servedUsage(fixture: Fixture): UsageTotals {
  const t = { input: 0, output: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  for (const s of fixture.served) {
    if (s.auxiliary || s.error) continue;
    t.input += s.usage.input_tokens;
    t.output += s.usage.output_tokens;
    t.cache_read_input_tokens += s.usage.cache_read_input_tokens;
    t.cache_creation_input_tokens += s.usage.cache_creation_input_tokens;
  }
  return t;
}

export function generationUsage(observations: StandinObservation[]): UsageTotals {
  const t = { input: 0, output: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  for (const o of observations) {
    if (o.type !== 'GENERATION') continue;
    for (const k of Object.keys(t) as (keyof UsageTotals)[]) t[k] += o.usageDetails[k] ?? 0;
  }
  return t;
}

/** Every OTLP body that reached the stand-in, decoded, as text. */
export function exportedText(standin: LangfuseStandin): string {
  return standin.requests
    .filter((r) => r.method === 'POST')
    .map((r) => r.body.toString('utf8'))
    .join('\n');
}

export function byName(observations: StandinObservation[], name: string): StandinObservation[] {
  return observations
    .filter((o) => o.name === name)
    .sort((a, b) => a.startTime.localeCompare(b.startTime));
}
