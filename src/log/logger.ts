export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

/** A structured logger: a fixed message plus fields, never a secret value. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const MASK = "***";

/**
 * Secrets at least this long are masked wherever they occur, inside words too.
 * Shorter ones are too likely to be part of ordinary words and numbers: masking
 * every occurrence ("con***", "la***", "***ing" for "test") would both shred the
 * text and show the value by where the masks fall. Validation warns about them.
 */
export const SUBSTRING_SECRET_MIN = 6;

/** What may follow a value that ends where an assignment's value ends. */
const VALUE_END = "(?=$|[\\s,;&|)\\]}>\"'`@]|\\.(?:\\s|$))";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/**
 * Where a secret under SUBSTRING_SECRET_MIN characters is masked: only where it
 * stands as a whole value, never as part of a word, so a mask says no more than
 * "this value is a secret":
 * - a whole line (or the whole text, e.g. one log field): `\n x9q \n`;
 * - a whole quoted string, as in JSON: `"x9q"`, `'x9q'`;
 * - a whole assignment value, after `=` or `:` and up to the value's end:
 *   `PIN=x9q`, `pin: x9q`, `user:x9q@host`, `PIN=x9q.` (end of sentence).
 * The same value in running text ("test" in "unit test ok") is left alone.
 */
function wholeValuePattern(secret: string): RegExp {
  const value = escapeRegExp(secret);
  return new RegExp([`(?<=^[ \\t]*)${value}(?=[ \\t\\r]*$)`, `(?<=(["'\\x60]))${value}(?=\\1)`, `(?<=[=:][ \\t]*)${value}${VALUE_END}`].join("|"), "gm");
}

/**
 * Replaces every known secret value inside a text with ***. Every sink Berth
 * writes to (logs, events, rows, status, plan output) passes text through one
 * of these, whole: a text is masked before it is cut ({@link redactThenTruncate}),
 * never after, or a secret crossing the cut would be kept in part.
 *
 * Secrets of SUBSTRING_SECRET_MIN characters or more are masked wherever they
 * occur; shorter ones only where they stand as a whole value (see
 * wholeValuePattern). Every occurrence of every secret is found in the text as
 * given, then each run of overlapping or adjacent occurrences becomes one mask:
 * overlapping secrets leave no part of either, and a secret containing another
 * is masked whole whatever their order.
 */
/** How many retired secret values stay masked: rotations of many weeks, at a few bytes each. */
const MAX_RETIRED = 1_000;

export class Redactor {
  private long: string[] = [];
  private short: RegExp[] = [];
  /** Secrets of Berth itself (the API token), masked whatever the manifests hold. */
  private readonly own = new Set<string>();
  private manifest: string[] = [];
  /**
   * Values the manifests held before and hold no more, newest last: containers of an older
   * revision (a rollout in flight, a rollback) still run with them, so their logs stay masked.
   */
  private readonly retired = new Set<string>();

  /** Sets the secret values currently in use (from env files, the daemon's environment, or marked secret). */
  setSecrets(values: Iterable<string>): void {
    const next = [...values];
    const current = new Set(next);
    for (const old of this.manifest) {
      if (current.has(old)) continue;
      this.retired.delete(old);
      this.retired.add(old);
    }
    for (const value of current) this.retired.delete(value);
    for (const oldest of this.retired) {
      if (this.retired.size <= MAX_RETIRED) break;
      this.retired.delete(oldest);
    }
    this.manifest = next;
    // Blank values are never masked: masking spaces or line breaks would only mangle the text.
    const all = [...new Set([...this.manifest, ...this.retired, ...this.own])].filter((v) => v.trim() !== "");
    this.long = all.filter((v) => v.length >= SUBSTRING_SECRET_MIN);
    this.short = all.filter((v) => v.length < SUBSTRING_SECRET_MIN).map(wholeValuePattern);
  }

  /** Adds a secret that stays masked across manifest changes. */
  addOwnSecret(value: string): void {
    // Pulls hand their credentials in every time: a value already masked rebuilds nothing.
    if (this.own.has(value)) return;
    this.own.add(value);
    this.setSecrets(this.manifest);
  }

  redact(text: string): string {
    const spans: [number, number][] = [];
    for (const secret of this.long) {
      for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + 1)) spans.push([at, at + secret.length]);
    }
    for (const pattern of this.short) {
      for (const match of text.matchAll(pattern)) spans.push([match.index, match.index + match[0].length]);
    }
    if (spans.length === 0) return text;
    spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    let out = "";
    let from = 0;
    for (let i = 0; i < spans.length; ) {
      const start = spans[i]![0];
      let end = spans[i]![1];
      // One mask for a run of overlapping or touching occurrences: no part of any is left between masks.
      for (i++; i < spans.length && spans[i]![0] <= end; i++) end = Math.max(end, spans[i]![1]);
      out += text.slice(from, start) + MASK;
      from = end;
    }
    return out + text.slice(from);
  }

  /** Masks the whole text, then cuts it to at most `max` characters. */
  redactThenTruncate(text: string, max: number): string {
    return redactThenTruncate((t) => this.redact(t), text, max);
  }
}

/**
 * Masks `text` whole with `redact`, then cuts it to at most `max` characters:
 * the only way a text that may hold secrets is ever shortened. Cutting first
 * would keep the start of a secret crossing the cut, unmasked. The cut is
 * masked again: what is left at its end may now stand as a whole short value.
 */
export function redactThenTruncate(redact: (text: string) => string, text: string, max: number): string {
  const masked = redact(text);
  if (masked.length <= max) return masked;
  let cut = redact(cutAt(masked, max));
  if (cut.length > max) cut = cutAt(cut, max);
  return cut;
}

/** The first `max` UTF-16 units, without leaving half of a surrogate pair at the end. */
function cutAt(text: string, max: number): string {
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: "text" | "json";
  write?: (line: string) => void;
  redactor?: Redactor;
  now?: () => Date;
}

function render(value: unknown, redact: (text: string) => string): string {
  if (value instanceof Error) return value.message;
  if (typeof value === "string") return value;
  // Each string inside is masked before it is escaped: an escaped secret (a newline, a quote) would no longer match.
  return JSON.stringify(redactDeep(value, redact)) ?? String(value);
}

/** A copy of a JSON-like value with every string in it masked; numbers, booleans and keys stay as they are. */
export function redactDeep<T>(value: T, redact: (text: string) => string): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact)) as T;
  if (value && typeof value === "object" && !(value instanceof Error)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, redact)])) as T;
  return value;
}

function textValue(value: string): string {
  return /[\s"=]/.test(value) || value === "" ? JSON.stringify(value) : value;
}

/** Creates a logger writing one line per entry, as logfmt-style text or JSON. */
export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const min = LEVELS[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const redact = (text: string) => options.redactor?.redact(text) ?? text;
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (LEVELS[level] < min) return;
    // Mask before quoting or escaping: an escaped secret would no longer match.
    const entries = Object.entries({ ...bound, ...fields })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, typeof v === "number" || typeof v === "boolean" ? v : redact(render(v, redact))] as const);
    const time = now().toISOString();
    if (options.format === "json") {
      write(JSON.stringify({ time, level, msg: redact(message), ...Object.fromEntries(entries) }));
      return;
    }
    const pairs = entries.map(([k, v]) => `${k}=${textValue(String(v))}`);
    write([time, level.padEnd(5), redact(message), ...pairs].join(" "));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = createLogger({ write: () => {} });
