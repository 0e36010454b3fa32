// Reads what the scripted model needs out of a Messages API request body. Pure functions only:
// step selection is derived from the request alone so retries, concurrent sessions and
// sub-agents never disturb each other.

export interface ContentBlock {
  type: string;
  text?: string;
  content?: unknown;
  [key: string]: unknown;
}

export interface ApiMessage {
  role: string;
  content: string | ContentBlock[];
}

export interface Conversation {
  /** Indexes (into messages) of the user messages that carry real user text. */
  userTextIndexes: number[];
  /** The latest real user text, exactly as sent (marker included). */
  latestUserText: string;
  /** The first real user text: with the session id it identifies a conversation. */
  firstUserText: string;
  /** Model calls already answered since the latest user text. */
  assistantRunsSinceUserText: number;
  lastToolResult: string;
  /** Texts of the tool results since the latest user text (this turn's), in order. */
  turnToolResults: string[];
  /** The `[[scenario:NAME]]` marker, the latest one if there are several. */
  marker: string | undefined;
}

const REMINDER = '<system-reminder>';
const MARKER = /\[\[scenario:([A-Za-z0-9._-]+)\]\]/g;

function blocks(message: ApiMessage): ContentBlock[] {
  if (typeof message.content === 'string') return [{ type: 'text', text: message.content }];
  return Array.isArray(message.content) ? message.content : [];
}

/** The user's own words in a message: text blocks that are not CLI-injected reminders. */
function userText(message: ApiMessage): string | undefined {
  if (message.role !== 'user') return undefined;
  const all = blocks(message);
  if (all.some((b) => b.type === 'tool_result')) return undefined;
  const texts = all
    .filter((b) => b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text as string)
    .filter((t) => !t.trimStart().startsWith(REMINDER));
  return texts.length === 0 ? undefined : texts.join('\n');
}

/** Text of a tool_result's content, which is either a string or a list of blocks. */
export function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((b): b is ContentBlock => typeof b === 'object' && b !== null && b.type === 'text')
    .map((b) => String(b.text ?? ''))
    .join('\n');
}

export function findMarker(text: string): string | undefined {
  let last: string | undefined;
  for (const m of text.matchAll(MARKER)) last = m[1];
  return last;
}

export function stripMarkers(text: string): string {
  return text.replace(MARKER, '').trim();
}

export function analyzeConversation(messages: readonly ApiMessage[]): Conversation {
  const userTextIndexes: number[] = [];
  const texts: string[] = [];
  let lastToolResult = '';
  let turnToolResults: string[] = [];
  messages.forEach((m, i) => {
    const text = userText(m);
    if (text !== undefined) {
      userTextIndexes.push(i);
      texts.push(text);
      turnToolResults = [];
    }
    if (m.role === 'user') {
      for (const b of blocks(m))
        if (b.type === 'tool_result') {
          lastToolResult = toolResultText(b.content);
          turnToolResults.push(lastToolResult);
        }
    }
  });
  const latest = userTextIndexes.at(-1) ?? -1;
  // Count answered model calls as runs of assistant messages: one response is one message on the
  // wire, but counting runs stays right even if a client splits a response into several messages.
  // CLI-inserted role:"system" messages do not interrupt a run.
  let runs = 0;
  let inRun = false;
  for (let i = latest + 1; i < messages.length; i++) {
    const role = messages[i]?.role;
    if (role === 'assistant') {
      if (!inRun) runs++;
      inRun = true;
    } else if (role !== 'system') {
      inRun = false;
    }
  }
  let marker: string | undefined;
  for (const t of texts) marker = findMarker(t) ?? marker;
  return {
    userTextIndexes,
    latestUserText: texts.at(-1) ?? '',
    firstUserText: texts[0] ?? '',
    assistantRunsSinceUserText: runs,
    lastToolResult,
    turnToolResults,
    marker,
  };
}

/**
 * How CLI versions have stated the working directory: " - Primary working directory: /a" (the
 * environment block of 2.1.x), "Working directory: /a" (older ones, inside `<env>`), "Current
 * working directory: /a", "cwd: /a". Only an absolute path counts: a scenario must never write
 * relative to wherever the CLI happens to run, let alone at `/`.
 */
const CWD_LINES = [
  /Primary working directory: *([^\n]+?)(?: \(was [^)\n]*\))?\s*(?:\n|$|<\/env>)/g,
  /(?:^|[\s>-])(?:Current )?[Ww]orking directory: *([^\n<]+?)\s*(?:\n|$|<\/env>)/g,
  /(?:^|[\s>-])cwd: *([^\n<]+?)\s*(?:\n|$|<\/env>)/g,
];

function absolute(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p);
}

/**
 * The CLI's working directory, from the system prompt or a role:"system" message; '' when no
 * known wording names an absolute path (the caller then refuses tool calls that need it).
 */
export function findCwd(body: { system?: unknown; messages?: unknown }): string {
  const texts: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === 'string') texts.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (typeof value === 'object' && value !== null) {
      const o = value as Record<string, unknown>;
      if (typeof o.text === 'string') texts.push(o.text);
      else if (o.content !== undefined) collect(o.content);
    }
  };
  collect(body.system);
  if (Array.isArray(body.messages)) {
    for (const m of body.messages as ApiMessage[]) if (m?.role === 'system') collect(m.content);
  }
  // The last one counts: after a resume in another directory the CLI adds a newer environment
  // message, "Primary working directory: B (was A)". Within a text, the first wording that
  // matches wins (the most specific is tried first), and its last occurrence.
  for (const text of texts.reverse()) {
    for (const re of CWD_LINES) {
      const found = [...text.matchAll(re)]
        .map((m) => m[1]?.trim() ?? '')
        .filter(absolute)
        .at(-1);
      if (found) return found;
    }
  }
  return '';
}
