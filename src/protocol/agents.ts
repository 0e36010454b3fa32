/**
 * Agents working together: the shapes shared by the control plane and the runner.
 *
 * - Sub-agent definitions the platform passes to a session (spec field `agents`, runner variable
 *   `AGENTS_JSON`): `[{name, description, prompt, tools?, model?}]`. They become the SDK's
 *   `agents` option, next to the ones the CLI finds in the working directory's `.claude/agents/`.
 * - The annotation that links a session to the session that created it, and the sender of a
 *   message between sessions.
 *
 * See docs/agents.md.
 */
import { z } from 'zod';

/** On a session created by another session: the creator's name. */
export const PARENT_SESSION_ANNOTATION = 'ambient-code.io/parent-session';

/** The sender name used for the main agent (sub-agents are named by their definition). */
export const MAIN_AGENT = 'main';

/**
 * The CLI's tools that start a sub-agent (it has named it both `Agent` and `Task`): the work the
 * sub-agent does carries the call's id as `parent_tool_use_id`.
 */
export const SUBAGENT_TOOLS: ReadonlySet<string> = new Set(['Agent', 'Task']);

const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** A tool name as the CLI spells it: `Read`, `Bash`, `mcp__server__tool`, `mcp__server`. */
const TOOL_NAME = /^[A-Za-z][A-Za-z0-9_:-]{0,127}$/;

export const AgentSpec = z.strictObject({
  name: z
    .string()
    .regex(AGENT_NAME, 'must be 1–64 letters, digits, "-" or "_", starting with a letter or digit')
    .meta({ description: 'What the main agent passes as `subagent_type` to use it.' }),
  description: z
    .string()
    .min(1, 'is empty: say when the main agent should use this agent')
    .max(4_000)
    .meta({ description: 'When to use this agent (the main agent reads it).' }),
  prompt: z
    .string()
    .min(1, "is empty: give the agent's system prompt")
    .max(100_000)
    .meta({ description: "The agent's system prompt." }),
  tools: z
    .array(
      z
        .string()
        .regex(TOOL_NAME, 'must be a tool name such as "Read" or "mcp__sessions__get_session"'),
    )
    .max(200)
    .optional()
    .meta({ description: 'Tools it may use; absent: every tool of the main agent.' }),
  model: z.string().min(1).max(200).optional().meta({
    description: 'A model alias (sonnet, opus, haiku, inherit) or id; absent: the main model.',
  }),
});
export type AgentSpec = z.infer<typeof AgentSpec>;

export const AgentSpecList = z
  .array(AgentSpec)
  .max(50)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((a, i) => {
      if (seen.has(a.name))
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `"${a.name}" is defined twice: names must be unique`,
        });
      seen.add(a.name);
    });
  })
  .meta({
    description:
      'Extension: sub-agents the main agent can use through the Task tool (AGENTS_JSON).',
  });

/** The SDK's `agents` option (a record by name) from the platform's list. */
export function toSdkAgents(
  list: readonly AgentSpec[],
): Record<string, { description: string; prompt: string; tools?: string[]; model?: string }> {
  const out: Record<
    string,
    { description: string; prompt: string; tools?: string[]; model?: string }
  > = {};
  for (const a of list)
    out[a.name] = {
      description: a.description,
      prompt: a.prompt,
      ...(a.tools ? { tools: [...a.tools] } : {}),
      ...(a.model ? { model: a.model } : {}),
    };
  return out;
}
