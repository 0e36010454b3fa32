/**
 * MCP servers from `.mcp.json`: MCP_CONFIG_PATH, else the working directory's, else the
 * workspace root's (the first that exists is used). `http` and `sse` servers are accepted;
 * `stdio` servers (which run a program on the runner's machine) only when the platform opts in
 * (`allowStdio`, proposed variable MCP_ALLOW_STDIO=true). Each accepted server's tools are
 * allowed as `mcp__<name>`. A broken file or entry is a warning and the session goes on without
 * it. Values are passed on as written (no `${VAR}` expansion: nothing here reads the runner's
 * environment).
 */
import type { McpServerConfig } from '@anthropic-ai/claude-agent-sdk';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface McpLoadOptions {
  configPath?: string;
  cwd: string;
  root: string;
  allowStdio: boolean;
  warn: (message: string) => void;
}

export interface McpLoadResult {
  servers: Record<string, McpServerConfig>;
  allowedTools: string[];
  /** The file used, if any. */
  source?: string;
}

const SERVER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export async function loadMcpConfig(opts: McpLoadOptions): Promise<McpLoadResult> {
  const candidates: string[] = [];
  if (opts.configPath) {
    const explicit = path.resolve(opts.root, opts.configPath);
    if (await readable(explicit)) candidates.push(explicit);
    else
      opts.warn(
        `MCP_CONFIG_PATH ${opts.configPath} does not exist; looking for .mcp.json in the working directory instead`,
      );
  }
  candidates.push(path.join(opts.cwd, '.mcp.json'), path.join(opts.root, '.mcp.json'));
  let source: string | undefined;
  for (const c of candidates) {
    if (await readable(c)) {
      source = c;
      break;
    }
  }
  if (!source) return { servers: {}, allowedTools: [] };
  const shown = path.relative(opts.root, source) || source;
  const warn = (m: string) => opts.warn(`${shown.startsWith('..') ? source : shown}: ${m}`);
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(source, 'utf8'));
  } catch (e) {
    warn(`is not valid JSON (${(e as Error).message}); continuing without MCP servers`);
    return { servers: {}, allowedTools: [], source };
  }
  const map =
    json && typeof json === 'object' && !Array.isArray(json)
      ? (json as Record<string, unknown>).mcpServers
      : undefined;
  if (!map || typeof map !== 'object' || Array.isArray(map)) {
    warn('has no "mcpServers" object; continuing without MCP servers');
    return { servers: {}, allowedTools: [], source };
  }
  const servers: Record<string, McpServerConfig> = {};
  for (const [name, raw] of Object.entries(map as Record<string, unknown>)) {
    const result = checkServer(name, raw, opts.allowStdio);
    if (typeof result === 'string') warn(`MCP server "${name}" refused: ${result}`);
    else servers[name] = result;
  }
  return { servers, allowedTools: Object.keys(servers).map((n) => `mcp__${n}`), source };
}

async function readable(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

function checkServer(name: string, raw: unknown, allowStdio: boolean): McpServerConfig | string {
  if (!SERVER_NAME.test(name)) return 'its name must be 1-64 letters, digits, "_" or "-"';
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return 'is not an object';
  const o = raw as Record<string, unknown>;
  const type =
    o.type ??
    (typeof o.command === 'string' ? 'stdio' : typeof o.url === 'string' ? 'http' : undefined);
  if (type === 'http' || type === 'sse') {
    if (typeof o.url !== 'string') return `a ${type} server needs a "url"`;
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      return '"url" is not a URL';
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return '"url" must be http(s)';
    const headers = stringRecord(o.headers);
    if (headers === null) return '"headers" must map names to strings';
    return { type, url: o.url, ...(headers ? { headers } : {}) };
  }
  if (type === 'stdio') {
    if (!allowStdio)
      return 'stdio servers run programs on the runner; they are accepted only when the platform sets MCP_ALLOW_STDIO=true';
    if (typeof o.command !== 'string' || !o.command) return 'a stdio server needs a "command"';
    if (
      o.args !== undefined &&
      (!Array.isArray(o.args) || !o.args.every((a) => typeof a === 'string'))
    )
      return '"args" must be a list of strings';
    const env = stringRecord(o.env);
    if (env === null) return '"env" must map names to strings';
    return {
      type: 'stdio',
      command: o.command,
      ...(o.args ? { args: o.args as string[] } : {}),
      ...(env ? { env } : {}),
    };
  }
  return `type ${JSON.stringify(type ?? null)} is not supported (use "http" or "sse")`;
}

/** undefined when absent, null when malformed. */
function stringRecord(v: unknown): Record<string, string> | undefined | null {
  if (v === undefined) return undefined;
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') return null;
    out[k] = val;
  }
  return out;
}
