/**
 * The baseline of the overhead benchmark: the same session as the runner's, through a bare SDK
 * `query()` loop in its own process, with the SDK options the runner uses (so the ratio measures
 * the runner, not a choice of options). The job comes as JSON in BENCH_SDK_JOB; the process
 * prints the number of messages and the result subtype, and exits as soon as the loop ends (as
 * the runner does: the SDK keeps grace timers that must not count).
 */
import { query } from '@anthropic-ai/claude-agent-sdk';
import { BASE_ALLOWED_TOOLS } from '../src/runner/claude-session.js';

export interface SdkJob {
  prompt: string;
  cwd: string;
  env: Record<string, string>;
}

async function main(): Promise<number> {
  const job = JSON.parse(process.env.BENCH_SDK_JOB ?? '') as SdkJob;
  let messages = 0;
  let subtype = 'none';
  let toolResults = 0;
  /** Milliseconds since the process started (where the time goes, for docs/benchmarks.md). */
  const at: Record<string, number> = { sdkLoaded: performance.now() };
  for await (const m of query({
    prompt: job.prompt,
    options: {
      cwd: job.cwd,
      permissionMode: 'acceptEdits',
      allowedTools: BASE_ALLOWED_TOOLS,
      includePartialMessages: true,
      systemPrompt: { type: 'preset', preset: 'claude_code' },
      settingSources: ['project'],
      strictMcpConfig: true,
      env: job.env,
    },
  })) {
    if (!messages) at.firstMessage = performance.now();
    messages++;
    if (m.type === 'user' && Array.isArray(m.message.content))
      toolResults += m.message.content.filter(
        (b) => typeof b === 'object' && b.type === 'tool_result',
      ).length;
    if (m.type === 'result') at.result = performance.now();
    if (m.type === 'result') subtype = m.is_error ? `error:${m.subtype}` : m.subtype;
  }
  process.stdout.write(`${JSON.stringify({ messages, subtype, toolResults, at })}\n`);
  return subtype === 'success' ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`sdk-loop: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
