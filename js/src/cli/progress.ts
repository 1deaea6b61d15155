// The progress line: one line on stderr, redrawn in place, only while a read is long (past
// SHOW_AFTER_MS) and only when both stdout and stderr are terminals. With stdout going to a
// pipe, another program may be writing to the same terminal, and a line redrawn with `\r`
// would garble its output; with stderr redirected, a log file would fill with redraws.

const SHOW_AFTER_MS = 1000;
const REDRAW_EVERY_MS = 100;
/** Erase the whole line and return to its start (ANSI EL2 + CR). */
const CLEAR = '\r\x1b[2K';

interface Terminal {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export class Progress {
  private readonly enabled: boolean;
  private readonly startedAt = Date.now();
  private shown = false;
  /** What is on the line now, so the timer redraws only what changed. */
  private drawnText = '';
  private lastDrawAt = 0;
  private text = '';
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly stderr: Terminal,
    stdout: { isTTY?: boolean },
    wanted: boolean,
  ) {
    this.enabled = wanted && stderr.isTTY === true && stdout.isTTY === true;
    // Redraws also while nothing arrives, so a wait is visible as a wait.
    if (this.enabled) this.timer = setInterval(() => this.shown && this.drawnText === this.text ? undefined : this.draw(), SHOW_AFTER_MS / 2).unref();
  }

  /** Sets the line's text; drawn once the read has lasted SHOW_AFTER_MS. */
  update(text: string): void {
    this.text = text;
    if (Date.now() - this.lastDrawAt >= REDRAW_EVERY_MS) this.draw();
  }

  /** Clears the line before something else is written to the same terminal. */
  suspend(): void {
    if (this.shown) this.stderr.write(CLEAR);
    this.shown = false;
  }

  /** Draws it again after suspend(). */
  resume(): void {
    this.draw();
  }

  /** Clears the line for good. */
  done(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.suspend();
  }

  private draw(): void {
    if (!this.enabled || this.text === '' || Date.now() - this.startedAt < SHOW_AFTER_MS) return;
    // A line longer than the terminal would wrap, and \r would then redraw only its last part.
    // Some terminals report no width (0): assume 80 columns.
    const width = (this.stderr.columns || 80) - 1;
    this.stderr.write(`${CLEAR}${this.text.slice(0, width)}`);
    this.shown = true;
    this.drawnText = this.text;
    this.lastDrawAt = Date.now();
  }
}
