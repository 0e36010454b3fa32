// The scenario file format and its validation. Other code (tests, the demo, benchmarks) writes
// scenarios by hand, so every error names the file, the JSON path and how to fix it.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export interface ToolCall {
  name: string;
  input: unknown;
  id?: string;
}

export interface StepUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export interface StepError {
  status: number;
  type?: string;
  message?: string;
  /** Only the first N attempts of this step fail; without it every attempt fails. */
  times?: number;
}

export type StopReason =
  'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal';

export interface Step {
  text?: string;
  thinking?: string;
  tools?: ToolCall[];
  repeat?: number;
  usage?: StepUsage;
  chunkSize?: number;
  delayMs?: number;
  chunkDelayMs?: number;
  error?: StepError;
  cutAfterEvents?: number;
  cutTimes?: number;
  /** Extension: override the stop reason (default: "tool_use" with tools, else "end_turn"). */
  stopReason?: StopReason;
}

export interface Turn {
  match?: string;
  steps: Step[];
}

export interface Scenario {
  name: string;
  description?: string;
  turns: Turn[];
  fallback?: Step;
}

const count = z.number().int().nonnegative();
const positive = z.number().int().positive();

const stepSchema = z
  .strictObject({
    text: z.string().optional(),
    thinking: z.string().optional(),
    tools: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          input: z.unknown(),
          id: z.string().min(1).optional(),
        }),
      )
      .optional(),
    repeat: positive.optional(),
    usage: z
      .strictObject({
        input_tokens: count.optional(),
        output_tokens: count.optional(),
        cache_read_input_tokens: count.optional(),
        cache_creation_input_tokens: count.optional(),
      })
      .optional(),
    chunkSize: positive.optional(),
    delayMs: count.optional(),
    chunkDelayMs: count.optional(),
    error: z
      .strictObject({
        status: z.number().int().min(400).max(599),
        type: z.string().min(1).optional(),
        message: z.string().optional(),
        times: positive.optional(),
      })
      .optional(),
    cutAfterEvents: count.optional(),
    cutTimes: positive.optional(),
    stopReason: z
      .enum(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal'])
      .optional(),
  })
  .superRefine((step, ctx) => {
    // A step that is eventually served needs something to say; only an always-failing step may be empty.
    const alwaysFails = step.error !== undefined && step.error.times === undefined;
    const hasContent =
      step.text !== undefined || (step.tools !== undefined && step.tools.length > 0);
    if (!hasContent && !alwaysFails) {
      ctx.addIssue({
        code: 'custom',
        message:
          'a step needs "text" or a non-empty "tools" (only an "error" without "times" may omit both)',
      });
    }
    if (step.cutTimes !== undefined && step.cutAfterEvents === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['cutTimes'],
        message: '"cutTimes" needs "cutAfterEvents"',
      });
    }
  });

const scenarioSchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9._-]+$/,
      'use letters, digits, ".", "_" or "-" (it appears in URLs and markers)',
    ),
  description: z.string().optional(),
  turns: z.array(
    z.strictObject({ match: z.string().min(1).optional(), steps: z.array(stepSchema).min(1) }),
  ),
  fallback: stepSchema.optional(),
});

// Compile-time proof that the zod schema and the hand-written interfaces agree.
type Parsed = z.infer<typeof scenarioSchema>;
const _agree: [Parsed extends Scenario ? true : false, Scenario extends Parsed ? true : false] = [
  true,
  true,
];
void _agree;

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

function formatIssues(source: string, error: z.ZodError): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
    return `  at ${path}: ${issue.message}`;
  });
  return `invalid scenario ${source}:\n${lines.join('\n')}\nfix the fields above (format: docs/scripted-model.md)`;
}

/** Validate an already parsed value; `source` names it in errors (a file path or "scenario #2"). */
export function parseScenario(value: unknown, source: string): Scenario {
  const result = scenarioSchema.safeParse(value);
  if (!result.success) throw new ScenarioError(formatIssues(source, result.error));
  return result.data;
}

export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(
      `invalid scenario ${path}: not JSON (${(err as Error).message}); fix the syntax`,
    );
  }
  return parseScenario(json, path);
}

/** Every `*.json` in `dir`, sorted by file name so the result does not depend on the filesystem. */
export function loadScenarioDir(dir: string): Scenario[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch (err) {
    throw new ScenarioError(`cannot read scenario directory ${dir}: ${(err as Error).message}`);
  }
  return names.sort().map((n) => loadScenarioFile(join(dir, n)));
}
