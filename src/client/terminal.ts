/**
 * Where rendered text goes. On a TTY a spinner shows on the line below the output while the
 * agent works; it is erased before any text is written and redrawn on the next tick, so it
 * never ends up in the output. Off a TTY (a pipe, a file, a test) the text is written as is.
 */
import type { Activity } from './render.js';

export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const TICK_MS = 80;
const CLEAR_LINE = '\r\x1b[2K';

export class Terminal {
  private spinnerShown = false;
  private atLineStart = true;
  private activity: Activity = 'idle';
  private since = Date.now();
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: OutStream,
    private readonly opts: { spinner: boolean; color: boolean },
  ) {}

  /** Columns for one-line items (a wide default off a TTY, so logs keep their detail). */
  get width(): number {
    return this.out.isTTY && this.out.columns ? Math.max(this.out.columns - 1, 40) : 160;
  }

  write(text: string): void {
    if (!text) return;
    this.clearSpinner();
    this.out.write(text);
    this.atLineStart = text.endsWith('\n');
  }

  /** What the agent is doing: the spinner runs while it is starting or working. */
  setActivity(activity: Activity): void {
    if (activity !== this.activity) {
      this.activity = activity;
      this.since = Date.now();
    }
    const spin = this.opts.spinner && (activity === 'working' || activity === 'starting');
    if (spin && !this.timer) {
      this.timer = setInterval(() => this.draw(), TICK_MS);
      this.timer.unref();
    } else if (!spin && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.clearSpinner();
    }
  }

  /** Stops the spinner and erases it. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clearSpinner();
  }

  private draw(): void {
    if (!this.atLineStart) return; // in the middle of streamed text: no room for a spinner
    const label = this.activity === 'starting' ? 'starting' : 'working';
    const secs = Math.floor((Date.now() - this.since) / 1000);
    const glyph = FRAMES[this.frame++ % FRAMES.length]!;
    const text = `${glyph} ${label}… ${secs}s`;
    this.out.write(`${CLEAR_LINE}${this.opts.color ? `\x1b[36m${text}\x1b[0m` : text}`);
    this.spinnerShown = true;
  }

  private clearSpinner(): void {
    if (!this.spinnerShown) return;
    this.out.write(CLEAR_LINE);
    this.spinnerShown = false;
  }
}
