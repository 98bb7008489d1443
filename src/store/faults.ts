/**
 * What went wrong with the store, in terms an operator can act on: a reason
 * class for the `berth_store_errors_total` counter and one short message that
 * names the database and what to do. The query text (drizzle puts the whole
 * SQL and its parameters in its error) never reaches the message.
 */
export type StoreFaultReason = "disk_full" | "locked" | "readonly" | "missing" | "io" | "other";

export interface StoreFault {
  reason: StoreFaultReason;
  message: string;
}

const MAX_DETAIL = 200;

/** Every error in `error`'s cause chain, outermost first. */
function chain(error: unknown): unknown[] {
  const seen: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && !seen.includes(e) && seen.length < 10; e = (e as { cause?: unknown }).cause) seen.push(e);
  return seen;
}

function field(error: unknown, name: "code" | "extendedCode" | "message"): string | undefined {
  const value = typeof error === "object" && error !== null ? (error as Record<string, unknown>)[name] : undefined;
  return typeof value === "string" ? value : undefined;
}

/** The first line of the innermost message that is not a query dump, cut short. */
function shortDetail(errors: unknown[]): string {
  for (const e of [...errors].reverse()) {
    const message = field(e, "message") ?? (typeof e === "string" ? e : "");
    const line = message.split("\n")[0]!.trim();
    if (!line || /^Failed query\b/i.test(line)) continue;
    return line.length > MAX_DETAIL ? `${line.slice(0, MAX_DETAIL)}…` : line;
  }
  return "unknown error";
}

/**
 * Classifies an error from a store call. `location` is the database file
 * (absolute) or the URL without its query; it is what the message names.
 */
/** Whether an error came from the database (libSQL/SQLite, or drizzle wrapping one), not from the caller's own logic. */
export function isStoreError(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return true;
    if (e instanceof Error && /^Failed query:/.test(e.message)) return true;
  }
  return false;
}

export function classifyStoreError(error: unknown, location: string): StoreFault {
  const errors = chain(error);
  const codes = errors.flatMap((e) => [field(e, "extendedCode"), field(e, "code")]).filter((c): c is string => c?.startsWith("SQLITE_") ?? false);
  const messages = errors.map((e) => field(e, "message") ?? "").join("\n");
  const has = (prefix: string) => codes.some((c) => c === prefix || c.startsWith(`${prefix}_`));
  if (has("SQLITE_FULL") || /database or disk is full/i.test(messages)) {
    return { reason: "disk_full", message: `database disk is full at ${location}; free space or move --db` };
  }
  if (codes.includes("SQLITE_READONLY_DBMOVED")) {
    return { reason: "missing", message: `database file ${location} was moved or deleted while berth had it open; restart berth to create it again, or restore the file` };
  }
  if (has("SQLITE_BUSY") || has("SQLITE_LOCKED")) {
    return { reason: "locked", message: `database at ${location} is locked by another connection; stop the other writer (another berth run on the same --db?) or move --db` };
  }
  if (has("SQLITE_READONLY")) {
    return { reason: "readonly", message: `database at ${location} is read-only; make the file and its directory writable by berth's user, or move --db` };
  }
  if (has("SQLITE_CANTOPEN")) {
    return { reason: "missing", message: `cannot open the database file ${location}; check that it and its directory exist and are writable, or move --db` };
  }
  const table = /no such table: ([\w.]+)/.exec(messages)?.[1];
  if (table) {
    return { reason: "missing", message: `table ${table} is missing from the database at ${location}; the file was replaced or is not Berth's store: restart berth to migrate it, or move --db` };
  }
  if (has("SQLITE_CORRUPT") || has("SQLITE_NOTADB")) {
    return { reason: "io", message: `database at ${location} is corrupt or not a database; restore it from a backup or move --db` };
  }
  if (has("SQLITE_IOERR")) {
    const code = codes.find((c) => c.startsWith("SQLITE_IOERR"))!;
    return { reason: "io", message: `I/O error (${code}) on the database at ${location}; check the disk and the file, or move --db` };
  }
  return { reason: "other", message: `store error at ${location}: ${shortDetail(errors)}` };
}

/** The failure the store is in: the writes that failed since every table's writes last landed. */
export interface WriteFailure {
  /** The fault of the latest failed write. */
  fault: StoreFault;
  /** The table of the latest failed write. */
  table: string;
  /** When the first of these failures happened, in ms since the epoch. */
  since: number;
  count: number;
}

/** A table whose last failure is this old no longer holds the store failing once other writes land. */
export const STALE_FAILURE_MS = 10 * 60_000;

/**
 * The health of the store's writes, as the recorder reports them, table by
 * table: the store is failing while the last write to some table failed. A
 * full disk refuses inserts but may still take updates in place, so one
 * table's success does not clear another's failure; a table's failure ends
 * when a write to it lands, or when other writes have landed and it has not
 * failed for STALE_FAILURE_MS (a table written rarely must not hold it forever).
 */
export class WriteHealth {
  private readonly failing = new Map<string, { fault: StoreFault; last: number }>();
  private streak?: { since: number; count: number; fault: StoreFault; table: string };
  /** Messages already logged in this failure, so a repeated one is not logged again. */
  private readonly told = new Set<string>();

  /** Records a failed write; `first` when its fault is new to the current failure (log it). */
  failed(table: string, fault: StoreFault, at: number = Date.now()): { first: boolean } {
    this.failing.delete(table); // re-inserted last: the map's order is the order of the latest failures
    this.failing.set(table, { fault, last: at });
    this.streak = { since: this.streak?.since ?? at, count: (this.streak?.count ?? 0) + 1, fault, table };
    const first = !this.told.has(fault.message);
    if (first && this.told.size < 100) this.told.add(fault.message);
    return { first };
  }

  /** Records a write to `table` that landed; returns the failure it ended, if the store is healthy again. */
  succeeded(table: string, at: number = Date.now()): WriteFailure | undefined {
    this.failing.delete(table);
    for (const [other, { last }] of this.failing) if (at - last >= STALE_FAILURE_MS) this.failing.delete(other);
    if (this.failing.size || !this.streak) return undefined;
    const { fault, table: last, since, count } = this.streak;
    this.streak = undefined;
    this.told.clear();
    return { fault, table: last, since, count };
  }

  /** The failure in progress, or undefined while every table's last write landed. */
  current(): WriteFailure | undefined {
    if (!this.streak || !this.failing.size) return undefined;
    const [table, { fault }] = [...this.failing].at(-1)!;
    return { fault, table, since: this.streak.since, count: this.streak.count };
  }
}
