// The public shapes of the scripted model server: what it records and how it is configured.
import type { Usage } from './reply.js';
import type { Scenario, StopReason } from './schema.js';

export interface RecordedRequest {
  method: string;
  path: string;
  /** Credentials masked: `authorization: "Bearer [REDACTED]"`, `x-api-key: "sk-a[REDACTED]"`. */
  headers: Record<string, string>;
  body: unknown;
  scenario: string | null;
  turn: number | null;
  step: number | null;
  kind: 'messages' | 'count_tokens' | 'other';
  /** A model call outside the scripted conversation (see isAuxiliary); it consumes no step. */
  auxiliary: boolean;
}

export interface ServedResponse {
  messageId: string;
  scenario: string;
  turn: number;
  step: number;
  model: string;
  /** Exactly the usage sent to the client (zeros for an error answer). */
  usage: Usage;
  stopReason: StopReason | null;
  text: string;
  tools: { id: string; name: string; input: unknown }[];
  /** HTTP status when the step answered with an error. */
  error?: number;
  /** The connection was cut on purpose after some events. */
  cut?: boolean;
  /** The scenario had no step left and the fallback answered. */
  fallback: boolean;
  auxiliary: boolean;
  streamed: boolean;
}

export interface ScriptedModelServer {
  url: string;
  requests: RecordedRequest[];
  served: ServedResponse[];
  /** Unredacted Authorization header values, each once, in the order first seen. */
  rawAuthorization(): string[];
  addScenario(s: Scenario): void;
  close(): Promise<void>;
}

export interface ScriptedModelOptions {
  port?: number;
  host?: string;
  scenarios?: Scenario[];
  /** Extra scenario files (`*.json`); the package's own `scenarios/` are always loaded first. */
  scenarioDir?: string;
  /** Default: the first of `scenarios`, else "hello". */
  defaultScenario?: string;
  quiet?: boolean;
  /** Keep only the newest N entries of `requests` and `served` (long-running servers). */
  maxRecorded?: number;
}
