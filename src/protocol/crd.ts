/**
 * The AgenticSession custom resource (contract §8): its spec and status as zod schemas, and the
 * mapping from the API's create body to the spec. Both `serve --executor kubernetes` (which
 * creates the resources) and the operator (which reconciles them) compile against this file, and
 * `deploy/crd.yaml` is its OpenAPI twin (a unit test keeps the two field lists equal).
 *
 * Names are the original platform's where it has one (`initialPrompt`, `repos[]{url, branch,
 * autoPush}`, `llmSettings`, `activeWorkflow`, `userContext`); the rest are this project's
 * extensions, named in the same camelCase.
 */
import { z } from 'zod';
import { AgentSpecList } from './agents.js';
import type { CreateSessionRequest } from './api.js';

export const CRD_GROUP = 'vteam.ambient-code';
export const CRD_VERSION = 'v1alpha1';
export const CRD_PLURAL = 'agenticsessions';
export const CRD_KIND = 'AgenticSession';
export const CRD_NAME = `${CRD_PLURAL}.${CRD_GROUP}`;

/** `Stopped` stops the current run, `Running` starts a new one of a finished session. */
export const DESIRED_PHASE_ANNOTATION = 'ambient-code.io/desired-phase';
/** With `desired-phase: Running`: the run number to start (serve's own numbering); else run+1. */
export const DESIRED_RUN_ANNOTATION = 'vteam.ambient-code/desired-run';
/**
 * The condition the operator sets once the current run's pod is gone (True) and clears for a new
 * run: serve ends its run on it, so a runner's last frames are never cut off by an early end.
 */
export const JOB_FINISHED_CONDITION = 'JobFinished';
/** Label on everything the operator creates for a session, so it can list them. */
export const SESSION_LABEL = 'vteam.ambient-code/agentic-session';
/** Label carrying the run number on a session's Job and its pod. */
export const RUN_LABEL = 'vteam.ambient-code/run';

export const CR_PHASES = [
  'Pending',
  'Creating',
  'Running',
  'Stopping',
  'Stopped',
  'Completed',
  'Failed',
] as const;
export const CrPhase = z.enum(CR_PHASES);
export type CrPhase = z.infer<typeof CrPhase>;
export const CR_TERMINAL: ReadonlySet<CrPhase> = new Set(['Stopped', 'Completed', 'Failed']);

export const CrRepo = z.object({
  url: z.string(),
  branch: z.string().optional(),
  autoPush: z.boolean().optional(),
  /** Extension: the directory name under the workspace. */
  name: z.string().optional(),
  /** Extension: where to push, when not to `url`. */
  output: z.object({ url: z.string(), branch: z.string().optional() }).optional(),
});
export type CrRepo = z.infer<typeof CrRepo>;

export const CrSpec = z.object({
  initialPrompt: z.string().optional(),
  displayName: z.string().optional(),
  interactive: z.boolean().optional(),
  repos: z.array(CrRepo).optional(),
  /** Extension: which repo is the working directory. */
  mainRepoIndex: z.number().int().min(0).optional(),
  userContext: z
    .object({
      userId: z.string().optional(),
      displayName: z.string().optional(),
      groups: z.array(z.string()).optional(),
    })
    .optional(),
  llmSettings: z
    .object({
      model: z.string().optional(),
      temperature: z.number().optional(),
      maxTokens: z.number().int().optional(),
    })
    .optional(),
  /** Seconds; the Job's activeDeadlineSeconds. 0 or absent: none. */
  timeout: z.number().int().min(0).optional(),
  environmentVariables: z.record(z.string(), z.string()).optional(),
  activeWorkflow: z
    .object({
      gitUrl: z.string(),
      branch: z.string().optional(),
      path: z.string().optional(),
    })
    .optional(),
  /** Extension: sub-agents (docs/agents.md). */
  agents: AgentSpecList.optional(),
  /** Extension: continue this session (reuse its workspace PVC, resume its conversation). */
  parentSessionId: z.string().optional(),
});
export type CrSpec = z.infer<typeof CrSpec>;

export const CrCondition = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: z.string().optional(),
});
export type CrCondition = z.infer<typeof CrCondition>;

/** The CLI's result summary of the last turn, camelCased. */
export const CrResult = z.object({
  subtype: z.string().optional(),
  numTurns: z.number().optional(),
  totalCostUsd: z.number().optional(),
  durationMs: z.number().optional(),
  durationApiMs: z.number().optional(),
  isError: z.boolean().optional(),
  usage: z.record(z.string(), z.unknown()).optional(),
  result: z.string().optional(),
});
export type CrResult = z.infer<typeof CrResult>;

export const CrStatus = z.object({
  phase: CrPhase.optional(),
  observedGeneration: z.number().int().optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  message: z.string().optional(),
  /** Extension: a short machine-readable cause (`SecretNotFound`, `OOMKilled`, `DeadlineExceeded`…). */
  reason: z.string().optional(),
  /** Extension: the run number (1 for the first, +1 per restart) and its Job. */
  run: z.number().int().optional(),
  jobName: z.string().optional(),
  exitCode: z.number().int().optional(),
  sdkSessionId: z.string().optional(),
  stoppedReason: z.string().optional(),
  result: CrResult.optional(),
  conditions: z.array(CrCondition).optional(),
});
export type CrStatus = z.infer<typeof CrStatus>;

export interface AgenticSession {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
  };
  spec: CrSpec;
  status?: CrStatus;
}

/** The CR spec for a session created through the API (contract §4 → §8). */
export function crSpecFromCreateRequest(req: Omit<CreateSessionRequest, 'labels' | 'annotations'>) {
  const autoPush = req.autoPushOnComplete;
  const spec: CrSpec = {
    initialPrompt: req.prompt,
    ...(req.displayName !== undefined ? { displayName: req.displayName } : {}),
    ...(req.interactive !== undefined ? { interactive: req.interactive } : {}),
    ...(req.llmSettings ? { llmSettings: { ...req.llmSettings } } : {}),
    ...(req.timeout !== undefined ? { timeout: req.timeout } : {}),
    ...(req.mainRepoIndex !== undefined ? { mainRepoIndex: req.mainRepoIndex } : {}),
    ...(req.environmentVariables ? { environmentVariables: { ...req.environmentVariables } } : {}),
    ...(req.userContext ? { userContext: { ...req.userContext } } : {}),
    ...(req.activeWorkflow ? { activeWorkflow: { ...req.activeWorkflow } } : {}),
    ...(req.agents ? { agents: req.agents } : {}),
    ...(req.parent_session_id ? { parentSessionId: req.parent_session_id } : {}),
  };
  if (req.repos?.length)
    spec.repos = req.repos.map((r) => ({
      url: r.input.url,
      ...(r.input.branch ? { branch: r.input.branch } : {}),
      ...(autoPush !== undefined ? { autoPush } : {}),
      ...(r.name ? { name: r.name } : {}),
      ...(r.output ? { output: { ...r.output } } : {}),
    }));
  return spec;
}

/** The runner's `REPOS_JSON` (contract §2) from the CR's repos. */
export function reposJsonFromCr(repos: readonly CrRepo[]): string {
  return JSON.stringify(
    repos.map((r) => ({
      ...(r.name ? { name: r.name } : {}),
      input: { url: r.url, ...(r.branch ? { branch: r.branch } : {}) },
      ...(r.output ? { output: r.output } : {}),
    })),
  );
}

/** Names of what the operator creates for a session (all owned by the CR). */
export const sessionResourceNames = (session: string, run: number, workspaceOf?: string) => ({
  secret: `${session}-runner-token`,
  /** A continuation shares its parent's workspace. */
  pvc: `${workspaceOf ?? session}-workspace`,
  job: `${session}-run-${run}`,
});

/** The runner's status report (contract §4 fields) as the CR's status fields. */
export function crStatusFromReport(r: {
  phase?: string;
  completionTime?: string;
  message?: string;
  subtype?: string;
  duration_ms?: number;
  duration_api_ms?: number;
  is_error?: boolean;
  num_turns?: number;
  session_id?: string;
  total_cost_usd?: number;
  usage?: Record<string, unknown> | null;
  result?: string | null;
}): Partial<CrStatus> {
  const out: Partial<CrStatus> = {};
  const phase = r.phase === 'Error' ? 'Failed' : r.phase;
  if (phase && (CR_PHASES as readonly string[]).includes(phase)) out.phase = phase as CrPhase;
  if (r.completionTime) out.completionTime = r.completionTime;
  if (r.message !== undefined) out.message = r.message;
  if (r.session_id) out.sdkSessionId = r.session_id;
  const result: CrResult = {
    ...(r.subtype !== undefined ? { subtype: r.subtype } : {}),
    ...(r.num_turns !== undefined ? { numTurns: r.num_turns } : {}),
    ...(r.total_cost_usd !== undefined ? { totalCostUsd: r.total_cost_usd } : {}),
    ...(r.duration_ms !== undefined ? { durationMs: r.duration_ms } : {}),
    ...(r.duration_api_ms !== undefined ? { durationApiMs: r.duration_api_ms } : {}),
    ...(r.is_error !== undefined ? { isError: r.is_error } : {}),
    ...(r.usage ? { usage: r.usage } : {}),
    ...(typeof r.result === 'string' ? { result: r.result.slice(0, 4096) } : {}),
  };
  if (Object.keys(result).length) out.result = result;
  return out;
}
