/**
 * The life cycle of one run as an explicit state machine: every change of state goes through
 * `transition`, which checks it against one table, logs it and wakes whoever waits for it. The
 * runner never polls for a state; it awaits `until(…)`.
 *
 *   starting ──► idle ◄──► turn      one turn per user message; messages that come meanwhile
 *                 │  ▲               wait in the runner's queue and start the next turn
 *                 ▼  │
 *               changing             a workspace change between turns, then the same session
 *
 *   starting, idle, turn, changing ──► ending      end_session, or a one-shot run's last turn
 *   any state before finishing     ──► stopping    SIGTERM, SIGINT, the session timeout
 *   any state before finishing     ──► finishing   the conversation is over (or failed)
 *   finishing ──► done                             workspace results, final frames and status
 *
 * A stop that comes while finishing is kept on the `finishing` state: it shortens
 * the final delivery to the grace period.
 */
import type { Logger } from '../observability/logger.js';

export interface StopRequest {
  phase: 'Failed' | 'Stopped';
  message: string;
  exitCode: number;
}

export type RunnerState =
  | { name: 'starting' | 'idle' | 'turn' | 'changing' | 'ending' | 'done' }
  | { name: 'stopping'; stop: StopRequest }
  | { name: 'finishing'; stop: StopRequest | null };

export type RunnerStateName = RunnerState['name'];

/** The states each state may move to; anything else is refused. */
const ALLOWED: Readonly<Record<RunnerStateName, readonly RunnerStateName[]>> = {
  starting: ['idle', 'ending', 'stopping', 'finishing'],
  idle: ['turn', 'changing', 'ending', 'stopping', 'finishing'],
  turn: ['idle', 'ending', 'stopping', 'finishing'],
  changing: ['idle', 'ending', 'stopping', 'finishing'],
  ending: ['stopping', 'finishing'],
  stopping: ['finishing'],
  finishing: ['finishing', 'done'],
  done: [],
};

export function canTransition(from: RunnerStateName, to: RunnerStateName): boolean {
  return ALLOWED[from].includes(to);
}

interface Waiter {
  until: (state: RunnerState) => boolean;
  resolve: (state: RunnerState) => void;
}

export class RunnerStateMachine {
  private current: RunnerState = { name: 'starting' };
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly log?: Logger) {}

  get state(): RunnerState {
    return this.current;
  }

  get name(): RunnerStateName {
    return this.current.name;
  }

  is(...names: RunnerStateName[]): boolean {
    return names.includes(this.current.name);
  }

  /** The stop the run is ending for (in `stopping`, or one kept on `finishing`), else null. */
  stopRequest(): StopRequest | null {
    const s = this.current;
    return s.name === 'stopping' || s.name === 'finishing' ? s.stop : null;
  }

  /**
   * Moves to `to` if the table allows it (true), else leaves the state as it is (false, logged:
   * the caller asked for something its state does not permit). Waiters are woken in order.
   */
  transition(to: RunnerState, why: string): boolean {
    const from = this.current.name;
    if (!canTransition(from, to.name)) {
      this.log?.debug(`state ${from} -> ${to.name} refused (${why})`);
      return false;
    }
    this.current = to;
    this.log?.debug(`state ${from} -> ${to.name} (${why})`);
    for (const w of [...this.waiters]) {
      if (!w.until(to)) continue;
      this.waiters.delete(w);
      w.resolve(to);
    }
    if (to.name === 'done') this.waiters.clear();
    return true;
  }

  /** Resolves with the state once `predicate` holds: at once if it does now, else on the transition. */
  until(predicate: (state: RunnerState) => boolean): Promise<RunnerState> {
    if (predicate(this.current)) return Promise.resolve(this.current);
    return new Promise((resolve) => this.waiters.add({ until: predicate, resolve }));
  }

  /** How many are waiting (for tests: a wait that was answered leaves nothing behind). */
  get waiting(): number {
    return this.waiters.size;
  }
}
