/**
 * One conversation with the Claude Code CLI through the SDK, in streaming-input mode: user
 * messages are pushed into an open input stream and each becomes a turn of the same
 * conversation. This class owns the CLI child process: it spawns it in its own process group so
 * that stopping the session also ends every process the agent started, and nothing is orphaned.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import {
  query,
  type AgentDefinition,
  type McpSdkServerConfigWithInstance,
  type Options,
  type Query,
  type SDKMessage,
  type SDKUserMessage,
} from '@anthropic-ai/claude-agent-sdk';
import type { RunnerConfig } from '../config/runner-config.js';
import type { Logger } from '../observability/logger.js';
import type { Redactor } from '../observability/redact.js';
import type { PreparedWorkspace } from '../workspace/types.js';
import { UserError } from '../errors.js';
import { AsyncQueue } from './async-queue.js';
import { buildCliEnv, cliScratchDir } from './cli-env.js';
import { buildAgentBounds, missingSandboxTools, sandboxUnavailableMessage } from './sandbox.js';

/** The tools the agent may use without asking (we run headless: nobody could answer). */
export const BASE_ALLOWED_TOOLS = [
  'Read',
  'Write',
  'Edit',
  'MultiEdit',
  'Bash',
  'Glob',
  'Grep',
  'WebSearch',
  'WebFetch',
];
const STDERR_TAIL_CHARS = 4_000;

export interface ClaudeSessionOptions {
  config: Readonly<RunnerConfig>;
  prepared: PreparedWorkspace;
  resume?: string;
  logger: Logger;
  redactor: Redactor;
  onMessage: (message: SDKMessage) => void;
  /** Sub-agents the platform defined (AGENTS_JSON), next to the project's `.claude/agents/`. */
  agents?: Record<string, AgentDefinition>;
  /**
   * The platform's own in-process MCP servers (the `sessions` tools) and the tools they add to
   * the allowed list. A workspace server of the same name gives way to them.
   */
  platformServers?: {
    servers: Record<string, McpSdkServerConfigWithInstance>;
    allowedTools: string[];
  };
  /** Extra SDK options merged over the defaults. */
  extraOptions?: Partial<Options>;
}

export class ClaudeSession {
  private readonly input = new AsyncQueue<SDKUserMessage>();
  private readonly abort = new AbortController();
  private readonly query: Query;
  private child: ChildProcess | null = null;
  private stderrTail = '';
  private readonly log: Logger;
  /** Settles when the conversation is over (input closed and the CLI gone), rejects on failure. */
  readonly done: Promise<void>;

  constructor(private readonly opts: ClaudeSessionOptions) {
    this.log = opts.logger.child('claude');
    this.query = query({ prompt: this.input, options: this.buildOptions() });
    this.done = this.consume();
  }

  private buildOptions(): Options {
    const { config, prepared, platformServers } = this.opts;
    for (const name of Object.keys(platformServers?.servers ?? {}))
      if (name in prepared.mcpServers)
        this.log.warn(`the workspace's MCP server "${name}" is replaced by the platform's own`);
    const env = buildCliEnv(config, prepared);
    const bounds = this.agentBounds(env);
    const options: Options = {
      cwd: prepared.cwd,
      additionalDirectories: prepared.additionalDirectories,
      permissionMode: 'acceptEdits',
      allowedTools: [
        ...BASE_ALLOWED_TOOLS,
        ...prepared.extraAllowedTools,
        ...(platformServers?.allowedTools ?? []),
      ],
      includePartialMessages: true,
      // Not snapshotted: by default the CLI records the first system prompt and replays it on
      // every resume, so a workflow switched in mid-session (a new CLI process resuming the same
      // conversation) would keep the old workflow's prompt and directories.
      systemPrompt: {
        type: 'preset',
        preset: 'claude_code',
        append: prepared.systemPromptAppend,
        snapshot: false,
      },
      // Project settings bring a repo's or workflow's .claude/ agents and commands.
      settingSources: ['project'],
      mcpServers: { ...prepared.mcpServers, ...platformServers?.servers },
      // Only the servers the workspace accepted: project settings must not start others
      // (e.g. stdio servers the platform did not opt in to).
      strictMcpConfig: true,
      env,
      // Where the agent may go (src/runner/sandbox.ts); these are flag settings, above the
      // project's own, so a repository cannot loosen them.
      ...(bounds.sandbox ? { sandbox: bounds.sandbox } : {}),
      ...(bounds.settings ? { settings: bounds.settings } : {}),
      abortController: this.abort,
      spawnClaudeCodeProcess: (spawnOpts) => {
        const child = spawn(spawnOpts.command, spawnOpts.args, {
          cwd: spawnOpts.cwd,
          env: spawnOpts.env as NodeJS.ProcessEnv,
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true,
        });
        this.child = child;
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (chunk: string) => {
          this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
          if (this.log.isDebug()) this.log.debug(chunk.trimEnd());
        });
        spawnOpts.signal?.addEventListener('abort', () => this.signalGroup('SIGKILL'), {
          once: true,
        });
        return child;
      },
      ...this.opts.extraOptions,
    };
    if (this.opts.agents && Object.keys(this.opts.agents).length) options.agents = this.opts.agents;
    if (config.model.name) options.model = config.model.name;
    if (this.opts.resume) options.resume = this.opts.resume;
    if (config.runtime.cliPath) options.pathToClaudeCodeExecutable = config.runtime.cliPath;
    return options;
  }

  /** The sandbox and file-tool bounds; refuses to start when a required sandbox cannot run. */
  private agentBounds(env: Record<string, string>): ReturnType<typeof buildAgentBounds> {
    const { config, prepared } = this.opts;
    if (config.sandbox.mode === 'off') return {};
    const missing = missingSandboxTools(env.PATH);
    if (config.sandbox.mode === 'required' && missing.length)
      throw new UserError('config', sandboxUnavailableMessage(missing));
    const bounds = buildAgentBounds(config, prepared, missing);
    if (bounds.warning) this.log.warn(bounds.warning);
    mkdirSync(cliScratchDir(config), { recursive: true, mode: 0o700 });
    return bounds;
  }

  private async consume(): Promise<void> {
    try {
      for await (const message of this.query) this.opts.onMessage(message);
    } finally {
      this.input.close();
    }
  }

  /** A new turn (the SDK queues it behind a running one; the runner avoids that). */
  send(text: string): boolean {
    return this.input.push({
      type: 'user',
      message: { role: 'user', content: text },
      parent_tool_use_id: null,
    } as SDKUserMessage);
  }

  /** Stops the current turn; the conversation stays usable. */
  async interrupt(): Promise<void> {
    await this.query.interrupt();
  }

  /** No more user messages: the CLI finishes the current turn and exits. */
  endInput(): void {
    this.input.close();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines the CLI wrote to stderr, redacted: for failure messages. */
  get stderr(): string {
    return this.opts.redactor.redact(this.stderrTail.trim());
  }

  /**
   * Ends the CLI and everything it started: SIGTERM to its process group, SIGKILL after
   * `graceMs`. Safe to call more than once and after the CLI has exited.
   */
  async terminate(graceMs: number): Promise<void> {
    this.input.close();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.signalGroup('SIGKILL'); // grandchildren may outlive the CLI
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.signalGroup('SIGTERM');
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs + 1_000))]);
    clearTimeout(timer);
    this.signalGroup('SIGKILL');
    this.abort.abort();
  }

  /** Synchronous last resort for process exit. */
  killNow(): void {
    this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, signal);
    } catch {
      /* already gone */
    }
  }
}
