/**
 * `AGENTS_JSON`: sub-agents the platform defines for a session (docs/agents.md), a JSON array of
 * `{name, description, prompt, tools?, model?}`. Each problem names the field, e.g.
 * `AGENTS_JSON[1].prompt: is required`.
 */
import { AgentSpecList, type AgentSpec } from '../protocol/agents.js';

const SHAPE = 'a JSON array of {"name", "description", "prompt", "tools"?, "model"?}';

export function parseAgentsJson(raw: string | undefined, problems: string[]): AgentSpec[] {
  if (raw === undefined) return [];
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (e) {
    problems.push(`AGENTS_JSON: is not valid JSON (${(e as Error).message}): give ${SHAPE}`);
    return [];
  }
  const parsed = AgentSpecList.safeParse(data);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    let where = 'AGENTS_JSON';
    for (const p of issue.path) where += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) problems.push(`${where}.${k}: unknown field: ${SHAPE}`);
      continue;
    }
    let message = issue.message.replace(/^Invalid input: /, '');
    if (issue.code === 'invalid_type' && /received undefined$/.test(message))
      message = 'is required';
    else if (issue.code === 'invalid_type' && issue.path.length === 0)
      message = `${message}: give ${SHAPE}`;
    problems.push(`${where}: ${message}`);
  }
  return [];
}
