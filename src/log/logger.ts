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
 * Replaces every known secret value inside a text with ***. Every sink Berth
 * writes to (logs, events, status, plan output) passes text through one of these.
 */
export class Redactor {
  private secrets: string[] = [];
  /** Secrets of Berth itself (the API token), masked whatever the manifests hold. */
  private readonly own = new Set<string>();
  private manifest: Iterable<string> = [];

  /** Sets the secret values currently in use (from env files, the daemon's environment, or marked secret). */
  setSecrets(values: Iterable<string>): void {
    this.manifest = [...values];
    // Longest first, so a secret containing another is masked whole; very short values would mask noise.
    this.secrets = [...new Set([...this.manifest, ...this.own])].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  }

  /** Adds a secret that stays masked across manifest changes. */
  addOwnSecret(value: string): void {
    this.own.add(value);
    this.setSecrets(this.manifest);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
    return out;
  }
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: "text" | "json";
  write?: (line: string) => void;
  redactor?: Redactor;
  now?: () => Date;
}

function render(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === "string") return value;
  return JSON.stringify(value) ?? String(value);
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
      .map(([k, v]) => [k, typeof v === "number" || typeof v === "boolean" ? v : redact(render(v))] as const);
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
