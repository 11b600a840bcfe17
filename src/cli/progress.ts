/** A progress bar on stderr: appears only after a second, redraws in place on a terminal, prints a few plain lines otherwise. */

export interface Progress {
  update(done: number): void;
  done(): void;
}

export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
  now(): number; // milliseconds
}

const SHOW_AFTER_MS = 1000;
const TTY_REDRAW_MS = 100;
const PLAIN_LINE_MS = 5000;
const BAR_WIDTH = 30;

export function formatProgress(label: string, done: number, total: number, elapsedMs: number): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} ${(fraction * 100).toFixed(0)}% ${rate.toFixed(1)}/s`;
}

export function createProgress(label: string, total: number, sink: ProgressSink): Progress {
  const started = sink.now();
  let lastDraw = -Infinity;
  let shown = false;
  let current = 0;
  const draw = (final: boolean) => {
    const line = formatProgress(label, current, total, sink.now() - started);
    sink.write(sink.isTTY ? `\r${line}${final ? '\n' : ''}` : `${line}\n`);
  };
  return {
    update(done: number) {
      current = done;
      const now = sink.now();
      if (now - started < SHOW_AFTER_MS) return;
      if (now - lastDraw < (sink.isTTY ? TTY_REDRAW_MS : PLAIN_LINE_MS)) return;
      lastDraw = now;
      shown = true;
      draw(false);
    },
    done() {
      if (shown) draw(true);
    },
  };
}

export function stderrSink(): ProgressSink {
  return { write: (t) => process.stderr.write(t), isTTY: Boolean(process.stderr.isTTY), now: () => performance.now() };
}
