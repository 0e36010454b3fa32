// Everything the server keeps between requests. Step selection itself is stateless; this holds
// the scenario registry, scenarios chosen by marker per CLI session (so the session's sub-agents
// follow them), the failure counters behind `times` / `cutTimes`, and id counters.
import { BoundedMap } from './bounded-map.js';
import type { Conversation } from './conversation.js';
import { loadScenarioDir, parseScenario, type Scenario } from './schema.js';
import { shippedScenarioDir } from './shipped.js';
import type { ScriptedModelOptions } from './types.js';

export interface Attempts {
  errors: number;
  cuts: number;
}

export class ScriptedState {
  readonly scenarios = new Map<string, Scenario>();
  readonly defaultName: string;
  // Bounded so a long-running server's memory stays flat however many sessions it sees.
  private readonly sessionScenario = new BoundedMap<string, string>(10_000);
  private readonly attempts = new BoundedMap<string, Attempts>(100_000);
  private messages = 0;
  private tools = 0;

  constructor(opts: ScriptedModelOptions) {
    // Later sources override earlier ones by name: shipped, then scenarioDir, then `scenarios`.
    const shipped = shippedScenarioDir();
    if (shipped) for (const s of loadScenarioDir(shipped)) this.scenarios.set(s.name, s);
    if (opts.scenarioDir) {
      for (const s of loadScenarioDir(opts.scenarioDir)) this.scenarios.set(s.name, s);
    }
    (opts.scenarios ?? []).forEach((s, i) => this.add(s, `scenarios[${i}] (${s?.name})`));
    this.defaultName = opts.defaultScenario ?? opts.scenarios?.[0]?.name ?? 'hello';
    if (!this.scenarios.has(this.defaultName)) {
      throw new Error(
        `default scenario "${this.defaultName}" is not loaded; known: ${this.known() || '(none)'}`,
      );
    }
  }

  /** Validates at runtime too: scenarios often come from plain JS or parsed JSON. */
  add(s: Scenario, source: string): void {
    this.scenarios.set(s.name, parseScenario(s, source));
  }

  known(): string {
    return [...this.scenarios.keys()].join(', ');
  }

  /** Priority: a marker in the conversation, the session's earlier marker, the path, the default. */
  choose(convo: Conversation, pathScenario: string | undefined, sessionId: string): string {
    if (convo.marker !== undefined) {
      if (sessionId !== '') this.sessionScenario.set(sessionId, convo.marker);
      return convo.marker;
    }
    const remembered = sessionId === '' ? undefined : this.sessionScenario.get(sessionId);
    return remembered ?? pathScenario ?? this.defaultName;
  }

  /** Counters for one step of one conversation (CLI session id + first user text). */
  attemptsFor(key: string): Attempts {
    let a = this.attempts.get(key);
    if (!a) {
      a = { errors: 0, cuts: 0 };
      this.attempts.set(key, a);
    }
    return a;
  }

  nextMessageId(): string {
    return `msg_scripted_${++this.messages}`;
  }

  nextToolId(): string {
    return `toolu_scripted_${++this.tools}`;
  }
}
