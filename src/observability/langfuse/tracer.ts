/**
 * The Langfuse tracer (contract §5, issue 4). Loaded only when tracing is on (see ./index.ts).
 *
 * One trace per run of a session, named with the session id:
 *
 *   claude_agent_session (agent)              the run; trace input = first prompt, output = last result
 *     claude_turn (span)                       one per user turn (metadata.turn)
 *       claude_interaction (generation)        one per model call (assistant message id)
 *         tool_<Name> (tool)                   one per tool call; level ERROR when it failed
 *           claude_interaction (generation)    a sub-agent's model calls, under its Task/Agent call
 *             tool_<Name> (tool)               …and its tool calls
 *       usage_reconciliation (generation)      only when the CLI counted usage no call carried
 *
 * Every observation carries the trace attributes (session id, user id, tags, metadata) so that
 * whichever span Langfuse sees first, the trace is complete.
 *
 * The SDK's messages are read by protocol/sdk-stream.ts, the same reading the frame mapper uses.
 *
 * OpenTelemetry runs on a private BasicTracerProvider, never the global one, and observations
 * are built from that provider's tracer (the SDK's `startObservation` resolves its provider
 * through a process-global slot, which would let two tracers in one process cross-talk).
 */
import {
  ROOT_CONTEXT,
  trace,
  type Attributes,
  type SpanContext,
  type Tracer as OtelTracer,
} from '@opentelemetry/api';
import { BasicTracerProvider, AlwaysOnSampler } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import {
  LangfuseAgent,
  LangfuseGeneration,
  LangfuseSpan,
  LangfuseTool,
  createTraceAttributes,
  type LangfuseGenerationAttributes,
  type LangfuseSpanAttributes,
  type ObservationLevel,
} from '@langfuse/tracing';
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { readFileSync } from 'node:fs';
import type { ResultSummary } from '../../protocol/frames.js';
import {
  readSdkMessage,
  type AssistantEvent,
  type InitEvent,
  type ResultEvent,
  type SdkEvent,
  type StreamPart,
  type TaskNotificationEvent,
  type TaskStartedEvent,
  type ToolUseBlock,
  type UserEvent,
} from '../../protocol/sdk-stream.js';
import type { TraceOutcome, Tracer, TurnStart } from '../tracing.js';
import type { TracerDeps } from './index.js';
import {
  BodyPolicy,
  MESSAGE_LIMIT,
  PROMPT_PREVIEW_LIMIT,
  TOOL_BODY_LIMIT,
  toolResultText,
} from './content.js';
import { UsageLedger, add, fromApiUsage, zeroUsage, USAGE_KEYS, type Usage } from './usage.js';

/** The instrumentation scope Langfuse recognises as its own SDK. */
const LANGFUSE_SCOPE = 'langfuse-sdk';
/** Spans per export request; exports otherwise happen only on flush (after each turn, at the end). */
const EXPORT_BATCH = 512;
/** No timed background exports: a failure there would be invisible to flush(). */
const NO_TIMED_EXPORT_SECONDS = 24 * 3600;

export const OBSERVATION_NAMES = {
  root: 'claude_agent_session',
  turn: 'claude_turn',
  generation: 'claude_interaction',
  reconciliation: 'usage_reconciliation',
  toolPrefix: 'tool_',
} as const;

type Obs = LangfuseAgent | LangfuseSpan | LangfuseGeneration | LangfuseTool;

interface Generation {
  id: string;
  key: string;
  obs: LangfuseGeneration;
  model: string;
  turn: number;
  text: string[];
  toolNames: string[];
  usage: Usage;
  /** Usage is final (from the stream's message_delta), not the first block's snapshot. */
  exact: boolean;
  stopReason?: string;
  firstTokenAt?: Date;
  /** The call failed (the SDK's `error` on the assistant message). */
  error?: string;
  ended: boolean;
}

interface ToolCall {
  /** Dropped once the call ended, so a long session does not keep its spans alive. */
  obs?: LangfuseTool;
  ctx: SpanContext;
}

/** What is kept of a generation after it ended (a late message of the same id may still name tools). */
interface FinishedGeneration {
  ctx: SpanContext;
  turn: number;
}

interface Turn {
  obs: LangfuseSpan;
  number: number;
}

export function createLangfuseTracer(deps: TracerDeps): Tracer {
  return new LangfuseRunTracer(deps);
}

class LangfuseRunTracer implements Tracer {
  private readonly processor: LangfuseSpanProcessor;
  private readonly otel: OtelTracer;
  private readonly body: BodyPolicy;
  private readonly ledger: UsageLedger;
  private readonly flushTimeoutMs: number;
  private readonly root: LangfuseAgent;
  private turn: Turn | undefined;
  private turnNumber = 0;
  /** Open generations by message id. */
  private readonly generations = new Map<string, Generation>();
  private readonly finished = new Map<string, FinishedGeneration>();
  /** The generation still open per stream (key: parent_tool_use_id, '' for the main agent). */
  private readonly open = new Map<string, Generation>();
  /** The generation whose stream events are arriving, per stream. */
  private readonly streaming = new Map<string, Generation>();
  private readonly tools = new Map<string, ToolCall>();
  /** What the next model call of a stream was given (user text, tool results, a sub-agent's prompt). */
  private readonly pendingInput = new Map<string, unknown>();
  private traceAttributes: Attributes = {};
  private model: string | undefined;
  private promptPreview: string | undefined;
  private traceInputSet = false;
  private lastResultText: string | undefined;
  private readonly totals = { num_turns: 0, duration_ms: 0, duration_api_ms: 0 };
  private lastCost: number | undefined;
  private inflight: Promise<void> | undefined;
  private closed = false;
  private exportWarned = false;
  private internalWarned = false;

  constructor(private readonly deps: TracerDeps) {
    const { config, redactor } = deps;
    const lf = config.langfuse;
    this.flushTimeoutMs = lf.flushTimeoutMs;
    this.body = new BodyPolicy(redactor, lf.maskMessages);
    this.ledger = new UsageLedger(config.session.parentSessionId !== undefined);
    this.model = config.model.requested ?? config.model.name;
    if (config.session.prompt)
      this.promptPreview = this.body.text(config.session.prompt, PROMPT_PREVIEW_LIMIT);

    // Every setting is passed explicitly: the SDK would otherwise read LANGFUSE_* variables
    // (and LANGFUSE_BASE_URL, not LANGFUSE_HOST).
    this.processor = new LangfuseSpanProcessor({
      baseUrl: lf.host,
      publicKey: lf.publicKey,
      secretKey: lf.secretKey,
      exportMode: 'batched',
      flushAt: EXPORT_BATCH,
      flushInterval: NO_TIMED_EXPORT_SECONDS,
      timeout: Math.max(0.1, lf.flushTimeoutMs / 1000),
      mediaUploadEnabled: false,
      // Langfuse's real-time ingestion path (v4): without this header a current Langfuse may
      // delay the spans by minutes on its v2 read API. Our span format is the SDK's own (v5).
      additionalHeaders: { 'x-langfuse-ingestion-version': '4' },
      environment: 'default',
      release: `claude-code-runner@${runnerVersion()}`,
      // The tracer's provider carries nothing but our observations.
      shouldExportSpan: () => true,
      mask: ({ data }) => this.body.maskExported(data),
    });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'claude-code-runner' }),
      sampler: new AlwaysOnSampler(),
      spanProcessors: [this.processor],
    });
    this.otel = provider.getTracer(LANGFUSE_SCOPE);
    this.refreshTraceAttributes();

    const s = config.session;
    this.root = this.start(
      'agent',
      OBSERVATION_NAMES.root,
      undefined,
      {
        metadata: {
          session_name: this.body.plain(s.name),
          project: this.body.plain(s.project),
          interactive: s.interactive,
          ...(s.parentSessionId ? { parent_session_id: this.body.plain(s.parentSessionId) } : {}),
        },
      },
      deps.startedAt,
    ) as LangfuseAgent;
    if (config.session.prompt)
      this.setTraceInput(this.body.text(config.session.prompt, MESSAGE_LIMIT));
  }

  // --- Tracer ------------------------------------------------------------------------------

  startTurn(t: TurnStart): void {
    if (this.closed) return;
    this.guard(() => {
      if (this.turn)
        this.finish(this.turn.obs, { metadata: { turn: this.turn.number, ended_by: 'next turn' } });
      this.turnNumber = t.turn;
      const input = this.body.text(t.text, MESSAGE_LIMIT);
      if (this.promptPreview === undefined) {
        this.promptPreview = this.body.text(t.text, PROMPT_PREVIEW_LIMIT);
        this.refreshTraceAttributes();
      }
      if (!this.traceInputSet) this.setTraceInput(input);
      this.turn = {
        number: t.turn,
        obs: this.start(
          'span',
          OBSERVATION_NAMES.turn,
          this.root.otelSpan.spanContext(),
          { input, metadata: { turn: t.turn } },
          t.startedAt,
        ) as LangfuseSpan,
      };
      this.pendingInput.set('', input);
    });
  }

  observe(message: SDKMessage): void {
    if (this.closed) return;
    this.guard(() => this.handle(readSdkMessage(message)));
  }

  async flush(): Promise<void> {
    if (this.closed) return;
    // An earlier export still running means Langfuse is slow: do not queue behind it (its spans,
    // and these, go with the next flush or the final one).
    if (this.inflight) return;
    const op = this.exportOp(() => this.processor.forceFlush());
    this.inflight = op.finally(() => {
      this.inflight = undefined;
    });
    await this.bounded(op);
  }

  async shutdown(outcome: TraceOutcome): Promise<void> {
    if (this.closed) return;
    this.guard(() => this.closeAll(outcome));
    this.closed = true;
    await this.bounded(this.exportOp(() => this.processor.shutdown()));
  }

  // --- SDK messages ------------------------------------------------------------------------

  private handle(m: SdkEvent): void {
    switch (m.kind) {
      case 'stream':
        return this.streamEvent(m.event, m.parent_tool_use_id ?? '');
      case 'assistant':
        return this.assistant(m, m.parent_tool_use_id ?? '');
      case 'user':
        return this.user(m, m.parent_tool_use_id ?? '');
      case 'result':
        return this.result(m);
      case 'init':
      case 'task_started':
      case 'task_notification':
        return this.system(m);
      default:
        return;
    }
  }

  private system(m: InitEvent | TaskStartedEvent | TaskNotificationEvent): void {
    if (m.kind === 'init' && m.model && !this.model) {
      this.model = m.model;
      this.refreshTraceAttributes();
    } else if (m.kind === 'task_started' && m.tool_use_id !== undefined && m.prompt !== undefined) {
      if (!this.pendingInput.has(m.tool_use_id))
        this.pendingInput.set(m.tool_use_id, this.body.text(m.prompt, MESSAGE_LIMIT));
    } else if (m.kind === 'task_notification' && m.tool_use_id !== undefined) {
      // The sub-agent is done: its last model call will get no more messages.
      const gen = this.open.get(m.tool_use_id);
      if (gen) this.endGeneration(gen);
    }
  }

  private streamEvent(ev: StreamPart, key: string): void {
    switch (ev.kind) {
      case 'message_start': {
        const gen = this.generation(ev.message_id, key, ev.model);
        if (!gen.exact) gen.usage = { ...gen.usage, ...fromApiUsage(ev.usage) };
        this.streaming.set(key, gen);
        return;
      }
      case 'content_block_delta': {
        const gen = this.streaming.get(key);
        if (gen && !gen.firstTokenAt) gen.firstTokenAt = new Date();
        return;
      }
      case 'message_delta': {
        const gen = this.streaming.get(key);
        if (!gen) return;
        // message_delta carries the call's final (cumulative) usage.
        gen.usage = { ...gen.usage, ...fromApiUsage(ev.usage) };
        gen.exact = true;
        if (ev.stop_reason !== undefined) gen.stopReason = ev.stop_reason;
        return;
      }
      case 'message_stop': {
        const gen = this.streaming.get(key);
        this.streaming.delete(key);
        if (gen) this.endGeneration(gen);
        return;
      }
      default:
        return;
    }
  }

  private assistant(msg: AssistantEvent, key: string): void {
    if (msg.message_id === undefined) return;
    const done = this.finished.get(msg.message_id);
    if (done) {
      // A block that arrived after its call ended: only its tool calls still matter.
      for (const b of msg.blocks) if (b.kind === 'tool_use') this.startTool(b, done.ctx, done.turn);
      return;
    }
    const gen = this.generation(msg.message_id, key, msg.model);
    if (!gen.exact) {
      // Several messages share one id (one per content block): the usage is counted once, as
      // the largest value seen per key.
      const seen = fromApiUsage(msg.usage);
      for (const k of USAGE_KEYS) gen.usage[k] = Math.max(gen.usage[k], seen[k] ?? 0);
    }
    if (msg.stop_reason !== undefined) gen.stopReason = msg.stop_reason;
    // The CLI reports a failed model call as a synthetic assistant message carrying `error`.
    if (msg.error !== undefined) gen.error = this.body.plain(msg.error, 500);
    for (const b of msg.blocks) {
      if (b.kind === 'text') gen.text.push(b.text);
      else if (b.kind === 'tool_use') {
        const name = this.startTool(b, gen.obs.otelSpan.spanContext(), gen.turn);
        if (name) gen.toolNames.push(name);
      }
    }
  }

  private user(msg: UserEvent, key: string): void {
    // The model call that asked for these results is over.
    const gen = this.open.get(key);
    if (gen && !this.streaming.has(key)) this.endGeneration(gen);
    const inputs: unknown[] = [];
    for (const r of msg.blocks) {
      if (r.kind !== 'tool_result') continue;
      const text = toolResultText(r.content);
      this.endTool(r.tool_use_id, text, r.is_error);
      inputs.push({
        type: 'tool_result',
        tool_use_id: r.tool_use_id,
        is_error: r.is_error,
        content: this.body.text(text, TOOL_BODY_LIMIT),
      });
    }
    if (inputs.length > 0) {
      this.pendingInput.set(key, inputs);
      return;
    }
    const text = msg.blocks.flatMap((b) => (b.kind === 'text' ? [b.text] : [])).join('\n');
    if (text) this.pendingInput.set(key, this.body.text(text, MESSAGE_LIMIT));
  }

  private result(m: ResultEvent): void {
    const main = this.open.get('');
    if (main) this.endGeneration(main);
    const summary = resultFields(m);
    this.totals.num_turns += summary.num_turns ?? 0;
    this.totals.duration_ms += summary.duration_ms ?? 0;
    this.totals.duration_api_ms += summary.duration_api_ms ?? 0;
    if (summary.total_cost_usd !== undefined) this.lastCost = summary.total_cost_usd;
    this.refreshTraceAttributes();

    const parent = this.turn?.obs ?? this.root;
    // Calls still open (a background sub-agent's) count with what they have reported so far.
    const open = new Map<string, Usage>();
    for (const g of this.generations.values())
      open.set(g.model, add(open.get(g.model) ?? zeroUsage(), g.usage));
    const missing = this.ledger.missing(m.modelUsage, open);
    for (const [model, usage] of missing) {
      const obs = this.start(
        'generation',
        OBSERVATION_NAMES.reconciliation,
        parent.otelSpan.spanContext(),
        {
          model: this.body.plain(model, 200),
          usageDetails: { ...usage },
          metadata: {
            turn: this.currentTurnNumber(),
            reason:
              'usage the CLI counted that no model call reported (sub-agent calls report non-final output tokens)',
          },
        },
      ) as LangfuseGeneration;
      this.ledger.record(model, usage);
      this.finish(obs);
    }

    const text = m.result;
    if (text !== undefined) this.lastResultText = this.body.text(text, MESSAGE_LIMIT);
    const failed = m.is_error === true;
    const resultMeta = { turn: this.currentTurnNumber(), ...summary };
    if (this.turn) {
      this.finish(this.turn.obs, {
        ...(this.lastResultText !== undefined && text !== undefined
          ? { output: this.lastResultText }
          : {}),
        metadata: resultMeta,
        ...(failed
          ? {
              level: 'ERROR' as const,
              statusMessage: this.body.plain(m.subtype ?? 'error'),
            }
          : {}),
      });
      this.turn = undefined;
    } else {
      this.root.update({ metadata: { last_result: resultMeta } });
    }
    if (this.lastResultText !== undefined)
      this.root.otelSpan.setAttributes(createTraceAttributes({ output: this.lastResultText }));
  }

  // --- observations ------------------------------------------------------------------------

  private generation(id: string, key: string, model: string | undefined): Generation {
    const existing = this.generations.get(id);
    if (existing) return existing;
    // (A finished id is handled by the callers; a message_start never repeats an id.)
    const previous = this.open.get(key);
    if (previous && previous.id !== id) this.endGeneration(previous);
    const modelName = this.body.plain(model || (this.model ?? 'unknown'), 200);
    const input = this.pendingInput.get(key);
    this.pendingInput.delete(key);
    const turn = this.currentTurnNumber();
    const obs = this.start('generation', OBSERVATION_NAMES.generation, this.parentFor(key), {
      model: modelName,
      ...(input !== undefined ? { input } : {}),
      metadata: {
        turn,
        message_id: this.body.plain(id, 200),
        ...(key ? { parent_tool_use_id: this.body.plain(key, 200) } : {}),
      },
    }) as LangfuseGeneration;
    const gen: Generation = {
      id,
      key,
      obs,
      model: modelName,
      turn,
      text: [],
      toolNames: [],
      usage: zeroUsage(),
      exact: false,
      ended: false,
    };
    this.generations.set(id, gen);
    this.open.set(key, gen);
    return gen;
  }

  private endGeneration(gen: Generation, level?: ObservationLevel, statusMessage?: string): void {
    if (gen.ended) return;
    gen.ended = true;
    this.generations.delete(gen.id);
    this.finished.set(gen.id, { ctx: gen.obs.otelSpan.spanContext(), turn: gen.turn });
    if (this.open.get(gen.key) === gen) this.open.delete(gen.key);
    if (this.streaming.get(gen.key) === gen) this.streaming.delete(gen.key);
    const text = gen.text.join('');
    this.ledger.record(gen.model, gen.usage);
    this.finish(gen.obs, {
      ...(text ? { output: this.body.text(text, MESSAGE_LIMIT) } : {}),
      usageDetails: { ...gen.usage },
      ...(gen.firstTokenAt ? { completionStartTime: gen.firstTokenAt } : {}),
      metadata: {
        turn: gen.turn,
        usage_final: gen.exact,
        ...(gen.stopReason ? { stop_reason: gen.stopReason } : {}),
        ...(gen.toolNames.length ? { tool_calls: gen.toolNames } : {}),
      },
      ...(level ? { level } : gen.error ? { level: 'ERROR' as const } : {}),
      ...(statusMessage ? { statusMessage } : gen.error ? { statusMessage: gen.error } : {}),
    });
  }

  /** Opens the tool call's observation under the generation that asked for it; returns its name. */
  private startTool(block: ToolUseBlock, parent: SpanContext, turn: number): string | undefined {
    const id = block.id;
    if (this.tools.has(id)) return undefined;
    const name = this.body.plain(block.name, 200);
    const obs = this.start('tool', `${OBSERVATION_NAMES.toolPrefix}${name}`, parent, {
      input: this.body.value(block.input, TOOL_BODY_LIMIT),
      metadata: { tool_use_id: this.body.plain(id, 200), turn },
    }) as LangfuseTool;
    this.tools.set(id, { obs, ctx: obs.otelSpan.spanContext() });
    // A sub-agent's first model call is given the prompt of the call that started it.
    if (block.subagent?.prompt !== undefined)
      this.pendingInput.set(id, this.body.text(block.subagent.prompt, MESSAGE_LIMIT));
    return name;
  }

  private endTool(id: string, text: string, failed: boolean): void {
    const tool = this.tools.get(id);
    if (!tool?.obs) return;
    const obs = tool.obs;
    delete tool.obs;
    this.finish(obs, {
      output: this.body.text(text, TOOL_BODY_LIMIT),
      ...(failed
        ? {
            level: 'ERROR' as const,
            statusMessage: this.body.masking
              ? 'tool failed'
              : this.body.plain(text || 'tool failed', 500),
          }
        : {}),
    });
  }

  /** Where a stream's next observation goes: under the sub-agent's tool call, or the turn. */
  private parentFor(key: string): SpanContext {
    if (key) {
      const tool = this.tools.get(key);
      if (tool) return tool.ctx;
    }
    return this.ensureTurn().obs.otelSpan.spanContext();
  }

  /** Model calls outside a user turn (e.g. after a background sub-agent reports back). */
  private ensureTurn(): Turn {
    if (!this.turn) {
      const number = Math.max(1, this.turnNumber);
      this.turn = {
        number,
        obs: this.start('span', OBSERVATION_NAMES.turn, this.root.otelSpan.spanContext(), {
          metadata: { turn: number, started_by: 'agent' },
        }) as LangfuseSpan,
      };
    }
    return this.turn;
  }

  private currentTurnNumber(): number {
    return this.turn?.number ?? Math.max(1, this.turnNumber);
  }

  private closeAll(outcome: TraceOutcome): void {
    const error = outcome.error !== undefined ? this.body.plain(outcome.error) : undefined;
    const level = error !== undefined ? ('ERROR' as const) : undefined;
    const failure = level ? { level, statusMessage: error } : {};
    for (const tool of this.tools.values()) {
      if (!tool.obs) continue;
      const obs = tool.obs;
      delete tool.obs;
      this.finish(obs, { ...failure, metadata: { unfinished: true } });
    }
    for (const gen of [...this.open.values()]) this.endGeneration(gen, level, error);
    if (outcome.result) this.applyFinalResult(outcome.result);
    if (this.turn) {
      this.finish(this.turn.obs, {
        ...failure,
        metadata: { turn: this.turn.number, unfinished: true },
      });
      this.turn = undefined;
    }
    this.refreshTraceAttributes();
    if (this.lastResultText !== undefined)
      this.root.otelSpan.setAttributes(createTraceAttributes({ output: this.lastResultText }));
    this.finish(this.root, {
      ...(this.lastResultText !== undefined ? { output: this.lastResultText } : {}),
      ...failure,
    });
  }

  /** The runner's final summary, when no result message carried it (e.g. the run was stopped). */
  private applyFinalResult(r: ResultSummary): void {
    if (this.lastCost === undefined) this.lastCost = r.total_cost_usd;
    if (this.totals.num_turns === 0) {
      this.totals.num_turns = r.num_turns;
      this.totals.duration_ms = r.duration_ms;
      this.totals.duration_api_ms = r.duration_api_ms;
    }
    if (this.lastResultText === undefined && r.result !== null)
      this.lastResultText = this.body.text(r.result, MESSAGE_LIMIT);
  }

  private start(
    kind: 'agent' | 'span' | 'generation' | 'tool',
    name: string,
    parent: SpanContext | undefined,
    attributes: LangfuseGenerationAttributes,
    startTime?: Date,
  ): Obs {
    const ctx = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    const otelSpan = this.otel.startSpan(name, startTime ? { startTime } : {}, ctx);
    otelSpan.setAttributes(this.traceAttributes);
    switch (kind) {
      case 'agent':
        return new LangfuseAgent({ otelSpan, attributes });
      case 'generation':
        return new LangfuseGeneration({ otelSpan, attributes });
      case 'tool':
        return new LangfuseTool({ otelSpan, attributes });
      default:
        return new LangfuseSpan({ otelSpan, attributes });
    }
  }

  private finish(obs: Obs, attributes?: LangfuseGenerationAttributes): void {
    if (attributes) {
      if (obs instanceof LangfuseGeneration) obs.update(attributes);
      else obs.update(attributes as LangfuseSpanAttributes);
    }
    obs.otelSpan.setAttributes(this.traceAttributes);
    obs.end();
  }

  private setTraceInput(input: string): void {
    this.traceInputSet = true;
    this.root.otelSpan.setAttributes(createTraceAttributes({ input }));
    this.root.update({ input });
  }

  /** Trace-level attributes, as the SDK's propagateAttributes would set them, on every span. */
  private refreshTraceAttributes(): void {
    const { session } = this.deps.config;
    const p = (s: string) => this.body.plain(s, 200);
    const model = p(this.model ?? 'default');
    const attrs: Attributes = {
      'langfuse.trace.name': p(session.id),
      'session.id': p(session.id),
      'langfuse.trace.tags': ['claude-code', `namespace:${p(session.namespace)}`, `model:${model}`],
      'langfuse.trace.metadata.namespace': p(session.namespace),
      'langfuse.trace.metadata.model': model,
    };
    if (session.userId) attrs['user.id'] = p(session.userId);
    if (session.userName) attrs['langfuse.trace.metadata.user_name'] = p(session.userName);
    if (this.promptPreview !== undefined)
      attrs['langfuse.trace.metadata.prompt'] = this.promptPreview;
    if (this.lastCost !== undefined)
      attrs['langfuse.trace.metadata.total_cost_usd'] = this.lastCost;
    if (this.totals.num_turns || this.totals.duration_ms) {
      attrs['langfuse.trace.metadata.num_turns'] = this.totals.num_turns;
      attrs['langfuse.trace.metadata.duration_ms'] = this.totals.duration_ms;
      attrs['langfuse.trace.metadata.duration_api_ms'] = this.totals.duration_api_ms;
    }
    this.traceAttributes = attrs;
  }

  // --- export and failure handling -----------------------------------------------------------

  /** Runs an export; never rejects (a failure is reported once). */
  private exportOp(fn: () => Promise<void>): Promise<void> {
    let p: Promise<void>;
    try {
      p = fn();
    } catch (err) {
      p = Promise.reject(err);
    }
    return p.then(
      () => undefined,
      (err: unknown) => this.exportFailed(err),
    );
  }

  /** Waits for an export at most LANGFUSE_FLUSH_TIMEOUT. */
  private async bounded(op: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.flushTimeoutMs);
    });
    const late = await Promise.race([op.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late)
      this.exportFailed(
        new Error(`Langfuse did not answer within ${this.flushTimeoutMs / 1000} s`),
      );
  }

  private exportFailed(err: unknown): void {
    if (this.exportWarned) return;
    this.exportWarned = true;
    this.deps.logger.warn(
      `Langfuse export failed (${describeExportError(err)}); the session goes on, traces may be incomplete, and further Langfuse errors are not reported`,
    );
  }

  /** A tracing bug must never break the session: report it once and carry on. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (this.internalWarned) return;
      this.internalWarned = true;
      this.deps.logger.warn(
        `Langfuse tracing error (${describeExportError(err)}); tracing goes on`,
      );
    }
  }
}

/** The result's summary fields that are present (trace metadata). */
function resultFields(m: ResultEvent): Partial<
  Record<'num_turns' | 'duration_ms' | 'duration_api_ms' | 'total_cost_usd', number>
> & {
  subtype?: string;
  is_error?: boolean;
} {
  const out: Record<string, number | string | boolean> = {};
  for (const k of ['num_turns', 'duration_ms', 'duration_api_ms', 'total_cost_usd'] as const) {
    const v = m[k];
    if (v !== undefined) out[k] = v;
  }
  if (m.subtype !== undefined) out.subtype = m.subtype;
  if (m.is_error !== undefined) out.is_error = m.is_error;
  return out;
}

function describeExportError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'number' ? `HTTP ${code}: ${err.message}` : err.message;
  }
  if (Array.isArray(err)) return err.map(describeExportError).join('; ');
  return String(err);
}

let version: string | undefined;
/** This package's version (for Langfuse's `release`), found by walking up from this module. */
function runnerVersion(): string {
  if (version !== undefined) return version;
  version = 'unknown';
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'claude-code-runner' && typeof pkg.version === 'string') {
        version = pkg.version;
        break;
      }
    } catch {
      /* not here */
    }
    dir = new URL('..', dir);
  }
  return version;
}
