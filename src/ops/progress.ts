/**
 * Progress of a long command on stderr. On a TTY: one bar redrawn at most every 100 ms and
 * cleared at the end. Otherwise (a log file, systemd, CI): one JSON line per 10 % step, so a log
 * shows that work is moving without a flood of carriage returns:
 *
 *   {"progress":"train","pct":30,"done":3,"total":10,"unit":"trees","elapsedMs":5120}
 *
 * `done`/`total` are in the caller's `unit` (bytes, rows, ms of data, iterations); `detail` is a
 * short free text shown after the bar (TTY only).
 */

export interface ProgressOptions {
  /** Force the TTY bar on or off (default: whether stderr is a terminal). */
  tty?: boolean;
  /** Emit nothing at all (`--quiet`). */
  silent?: boolean;
  /** Where lines go (default: stderr). */
  write?: (text: string) => void;
}

const enc = new TextEncoder();
const stderr = (t: string) => {
  Deno.stderr.writeSync(enc.encode(t));
};

export class Progress {
  private readonly started = performance.now();
  // -Infinity, not 0: performance.now() counts from the thread's start, so 0 would swallow the
  // first draw of a bar started within 100 ms of it.
  private lastDraw = -Infinity;
  private lastStep = -1;
  /** Whether the bar is drawn (stderr is a terminal, or forced). */
  readonly tty: boolean;
  private readonly silent: boolean;
  private readonly write: (text: string) => void;
  private drawn = false;

  /**
   * @param label the command (`train`, `download`, …), the JSON lines' `progress` field
   * @param total the amount of work in `unit`s (> 0; 0 or NaN shows counts only)
   */
  constructor(
    readonly label: string,
    private total: number,
    readonly unit: string,
    opts: ProgressOptions = {},
  ) {
    this.silent = opts.silent ?? false;
    this.write = opts.write ?? stderr;
    let tty = opts.tty;
    if (tty === undefined) {
      try {
        tty = Deno.stderr.isTerminal();
      } catch {
        tty = false;
      }
    }
    this.tty = tty;
  }

  /** Changes the total (work discovered while running). */
  setTotal(total: number): void {
    this.total = total;
  }

  /** Reports `done` units finished; `detail` is shown beside the TTY bar. */
  update(done: number, detail = ""): void {
    if (this.silent) return;
    const f = this.total > 0 ? Math.min(1, Math.max(0, done / this.total)) : NaN;
    const now = performance.now();
    if (!this.tty) {
      const step = Number.isNaN(f) ? -1 : Math.floor(f * 10);
      if (step <= this.lastStep) return;
      this.lastStep = step;
      this.write(
        JSON.stringify({
          progress: this.label,
          pct: step * 10,
          done,
          total: this.total,
          unit: this.unit,
          elapsedMs: Math.round(now - this.started),
        }) + "\n",
      );
      return;
    }
    if (now - this.lastDraw < 100 && f < 1) return;
    this.lastDraw = now;
    const width = 30;
    const filled = Number.isNaN(f) ? 0 : Math.round(f * width);
    const pct = Number.isNaN(f) ? "  ?" : (f * 100).toFixed(0).padStart(3);
    const secs = ((now - this.started) / 1000).toFixed(1);
    this.write(
      `\r\x1b[2K${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${pct} % ` +
        `${secs} s${detail ? "  " + detail : ""}`,
    );
    this.drawn = true;
  }

  /** Clears the TTY bar (a no-op otherwise). */
  done(): void {
    if (this.tty && this.drawn && !this.silent) this.write("\r\x1b[2K");
    this.drawn = false;
  }
}
