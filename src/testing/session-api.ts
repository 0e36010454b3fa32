/**
 * A few calls to a running control plane, for tests, benchmarks and anything else that drives
 * `serve` from the outside (with src/testing/serve-process.ts): create and read sessions, wait for
 * a condition, and the contract-speaking runner stand-in (src/testing/contract-runner.ts) that
 * measures the hub without a model.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiPath } from '../protocol/paths.js';
import { TERMINAL_PHASES } from '../protocol/status.js';
import type { ServeHandle } from './serve-process.js';

export const PROJECT = 'demo';

/** The phases a run ends in, as strings (what the API answers). */
export const TERMINAL: readonly string[] = [...TERMINAL_PHASES];

/** argv of the contract-speaking runner stand-in (FAKE_MODE and friends, see its header). */
export function contractRunner(): string[] {
  return [process.execPath, fileURLToPath(new URL('./contract-runner.js', import.meta.url))];
}

/** Polls `probe` until it gives a value (not undefined or false), or throws naming `what`. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface SessionJson {
  metadata: {
    name: string;
    namespace: string;
    annotations: Record<string, string>;
    labels: Record<string, string>;
  };
  spec: Record<string, unknown> & { environmentVariables?: Record<string, string> };
  status: {
    phase: string;
    message?: string;
    exitCode?: number | null;
    run: number;
    result?: string | null;
  } & Record<string, unknown>;
}

export async function createSession(
  serve: ServeHandle,
  body: Record<string, unknown>,
): Promise<SessionJson> {
  const res = await serve.api('POST', apiPath.sessions(PROJECT), body);
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${res.text}`);
  return res.json as SessionJson;
}

export async function getSession(serve: ServeHandle, name: string): Promise<SessionJson> {
  const res = await serve.api('GET', apiPath.session(PROJECT, name));
  if (res.status !== 200) throw new Error(`get answered ${res.status}: ${res.text}`);
  return res.json as SessionJson;
}

/** A JSON file the runner (or its stand-in) wrote in the session's workspace. */
export function readWorkspaceJson(serve: ServeHandle, name: string, file: string): unknown {
  return JSON.parse(readFileSync(path.join(serve.dataDir, 'workspaces', name, file), 'utf8'));
}
