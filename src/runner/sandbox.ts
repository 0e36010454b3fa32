/**
 * Keeping the agent inside its workspace with what Claude Code itself offers (docs/runner.md,
 * "Isolation"), not a sandbox of our own:
 *
 * - its commands (Bash) run in Claude Code's sandbox: bubblewrap on Linux, with a pid namespace
 *   of their own (no other process, so no `/proc/<pid>/environ` of the runner or serve), the
 *   denied paths hidden behind an empty tmpfs (the control plane's data dir, with the workspace
 *   let through again), writes only in the working directories, the model credentials unset,
 *   and the network through Claude Code's proxy;
 * - its file tools (Read, Grep, Glob, Write, Edit…) refuse paths outside the working
 *   directories (`blockFileToolReadsOutsideWorkingDirectories`,
 *   `blockWritesOutsideWorkingDirectories`), links included.
 *
 * Both are settings the program that starts the CLI passes (`--settings`), so neither the
 * project's `.claude/settings.json` nor the agent can loosen them.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { Options } from '@anthropic-ai/claude-agent-sdk';
import type { RunnerConfig } from '../config/runner-config.js';
import type { PreparedWorkspace } from '../workspace/types.js';

type SandboxSettings = NonNullable<Options['sandbox']>;
type InlineSettings = Exclude<NonNullable<Options['settings']>, string>;

/** What the sandbox needs on Linux (Debian/Ubuntu packages `bubblewrap socat`). */
export const SANDBOX_TOOLS = ['bwrap', 'socat'] as const;
export const SANDBOX_INSTALL_HINT = 'apt-get install bubblewrap socat';

/**
 * Variables the agent's commands must not see even though the CLI has them: the model
 * credentials (the CLI needs them, a command never does).
 */
export const CLI_ONLY_CREDENTIALS = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'ANTHROPIC_CUSTOM_HEADERS',
  'GOOGLE_APPLICATION_CREDENTIALS',
];

export interface AgentBounds {
  /** The SDK's `sandbox` option; absent when commands run unsandboxed. */
  sandbox?: SandboxSettings;
  /** Inline flag settings (the file-tool bounds); absent when the sandbox mode is `off`. */
  settings?: InlineSettings;
  /** Why the sandbox is not used although it was asked for (`auto` without bubblewrap). */
  warning?: string;
}

/** The tools of SANDBOX_TOOLS that are not on `PATH`. */
export function missingSandboxTools(pathEnv: string | undefined): string[] {
  const dirs = (pathEnv ?? '').split(path.delimiter).filter(Boolean);
  return SANDBOX_TOOLS.filter(
    (tool) =>
      !dirs.some((dir) => {
        try {
          accessSync(path.join(dir, tool), constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
  );
}

/** The message of a run that requires the sandbox where it cannot run. */
export function sandboxUnavailableMessage(missing: readonly string[]): string {
  return (
    `the sandbox is required (RUNNER_SANDBOX=required) but ${missing.join(' and ')} ` +
    `${missing.length > 1 ? 'are' : 'is'} not installed: install ${missing.length > 1 ? 'them' : 'it'} ` +
    `(${SANDBOX_INSTALL_HINT}), or set RUNNER_SANDBOX=off where the pod or container is the boundary`
  );
}

/**
 * The sandbox and settings for one CLI process. `missing` is what `missingSandboxTools` found:
 * with `required` the caller refuses to start (sandboxUnavailableMessage); with `auto` the
 * commands run unsandboxed and `warning` says so. The CLI fails closed on its own too
 * (`failIfUnavailable`, startup failure `sandbox_required_unavailable`) when the tools are
 * there but cannot run (e.g. no user namespaces).
 */
export function buildAgentBounds(
  config: Readonly<RunnerConfig>,
  prepared: PreparedWorkspace,
  missing: readonly string[],
): AgentBounds {
  const { sandbox: s } = config;
  if (s.mode === 'off') return {};
  const settings: InlineSettings = {
    permissions: {
      blockFileToolReadsOutsideWorkingDirectories: true,
      blockWritesOutsideWorkingDirectories: true,
    },
  };
  if (s.mode === 'auto' && missing.length)
    return {
      settings,
      warning: `the agent's commands run without the sandbox: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed (${SANDBOX_INSTALL_HINT}); RUNNER_SANDBOX=required makes this an error`,
    };
  // The workspace and the CLI's state may lie inside a denied directory (serve's data dir):
  // reading them again is allowed, and nothing else of it.
  const own = [...new Set([config.workspace.path, config.workspace.stateDir, prepared.cwd])];
  const files =
    config.model.vertex?.credentialsFile !== undefined
      ? [{ path: config.model.vertex.credentialsFile, mode: 'deny' as const }]
      : [];
  const sandbox: SandboxSettings = {
    enabled: true,
    failIfUnavailable: s.mode === 'required',
    // Bash is on the allowed list anyway; a sandboxed command needs no other approval.
    autoAllowBashIfSandboxed: true,
    // The model cannot ask to run a command outside the sandbox.
    allowUnsandboxedCommands: false,
    network: { allowedDomains: [...s.allowedDomains] },
    filesystem: {
      ...(s.denyRead.length ? { denyRead: [...s.denyRead], allowRead: own } : {}),
    },
    credentials: {
      envVars: CLI_ONLY_CREDENTIALS.map((name) => ({ name, mode: 'deny' as const })),
      ...(files.length ? { files } : {}),
    },
  };
  return { sandbox, settings };
}
