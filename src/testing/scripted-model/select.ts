// Which step of a scenario answers a request. Stateless by design: the same request always gets
// the same step, which is what makes client retries, parallel sessions and sub-agents work.
import type { Conversation } from './conversation.js';
import type { Scenario, Step } from './schema.js';

export const DEFAULT_FALLBACK: Step = { text: '(scenario finished)' };

export interface Selection {
  /** Index into scenario.turns (may be past the end when the scenario has run out of turns). */
  turn: number;
  /** Model call index within the turn, counting each `repeat` play separately. */
  step: number;
  /** The step to play: the scenario's, or the fallback. */
  play: Step;
  fallback: boolean;
}

/** The turn for the latest user text: the first `match` it contains, else its ordinal. */
export function selectTurn(scenario: Scenario, convo: Conversation): number {
  const text = convo.latestUserText;
  const matched = scenario.turns.findIndex((t) => t.match !== undefined && text.includes(t.match));
  if (matched >= 0) return matched;
  return Math.max(0, convo.userTextIndexes.length - 1);
}

/** The step at a model-call index, with `repeat` expanded. */
export function stepAt(steps: readonly Step[], callIndex: number): Step | undefined {
  let remaining = callIndex;
  for (const step of steps) {
    const plays = step.repeat ?? 1;
    if (remaining < plays) return step;
    remaining -= plays;
  }
  return undefined;
}

export function selectStep(scenario: Scenario, convo: Conversation): Selection {
  const turn = selectTurn(scenario, convo);
  const step = convo.assistantRunsSinceUserText;
  const found = stepAt(scenario.turns[turn]?.steps ?? [], step);
  if (found) return { turn, step, play: found, fallback: false };
  return { turn, step, play: scenario.fallback ?? DEFAULT_FALLBACK, fallback: true };
}
