/**
 * What `apply` shows while it converges: live per-resource lines on a
 * terminal, one line per change otherwise, JSON lines with `-o json`.
 * Fed with status snapshots (the same ones `berth status` prints), so it
 * shows exactly what the reconcilers report, waits included.
 */
import type { ResourceStatus } from "../engine/controller.ts";

export type ProgressMode = "tty" | "plain" | "json";

interface Seen {
  phase: string;
  message: string;
  /** When it entered its current phase (ms since the apply began). */
  since: number;
  /** When it became ready, if it has. */
  doneAt?: number;
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export class ProgressReporter {
  private readonly seen = new Map<string, Seen>();
  private drawn = 0;
  private frame = 0;
  private readonly started: number;

  constructor(
    private readonly mode: ProgressMode,
    private readonly write: (text: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  /** Takes the latest statuses: prints what changed (plain, json) or redraws every line (tty). */
  update(statuses: readonly ResourceStatus[]): void {
    const at = this.now() - this.started;
    const changed: ResourceStatus[] = [];
    for (const s of statuses) {
      const key = `${s.kind}/${s.name}`;
      const message = s.error ?? s.message;
      const before = this.seen.get(key);
      if (before && before.phase === s.phase && before.message === message && (before.doneAt !== undefined) === done(s)) continue;
      this.seen.set(key, { phase: s.phase, message, since: before?.phase === s.phase ? before.since : at, ...(done(s) ? { doneAt: before?.doneAt ?? at } : {}) });
      changed.push(s);
    }
    if (this.mode === "tty") return this.redraw(statuses, at);
    for (const s of changed) this.write(this.mode === "json" ? `${JSON.stringify({ elapsedMs: at, kind: s.kind, name: s.name, phase: s.phase, ready: s.ready, message: s.error ?? s.message })}\n` : `${seconds(at).padStart(6)} ${s.kind}/${s.name}: ${describe(s)}\n`);
  }

  private redraw(statuses: readonly ResourceStatus[], at: number): void {
    this.frame++;
    const lines = statuses.map((s) => {
      const seen = this.seen.get(`${s.kind}/${s.name}`)!;
      const mark = seen.doneAt !== undefined ? "\x1b[32m✓\x1b[0m" : s.error ? "\x1b[31m✗\x1b[0m" : SPINNER[this.frame % SPINNER.length];
      // Done: when it got there since apply began; not yet: how long it has been in its phase.
      const elapsed = seconds(seen.doneAt ?? at - seen.since);
      return `${mark} ${s.kind}/${s.name} ${describe(s)} (${elapsed})`;
    });
    const width = process.stdout.columns || 120;
    // Back to the first line drawn last time, each line cleared and written again, cut to the terminal's width.
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
    this.write(`${up}${lines.map((l) => `\x1b[2K${cut(l, width)}\n`).join("")}`);
    this.drawn = lines.length;
  }
}

/** Ready, or converged where readiness does not apply. */
function done(s: ResourceStatus): boolean {
  return s.ready && s.converged && !s.error;
}

function describe(s: ResourceStatus): string {
  const message = s.error ?? s.message;
  return message ? `${s.phase}: ${message}` : s.phase;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Cuts a line to `width` visible characters (escape sequences do not count). */
function cut(line: string, width: number): string {
  let visible = 0;
  let out = "";
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\x1b") {
      const end = line.indexOf("m", i);
      out += line.slice(i, end + 1);
      i = end;
      continue;
    }
    if (visible >= width - 1) break;
    out += line[i];
    visible++;
  }
  return out;
}
