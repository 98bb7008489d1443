import { eq, sql, type SQL } from "drizzle-orm";
import type { Database } from "./store.ts";
import { leases } from "./schema.ts";

export type LeaseRow = typeof leases.$inferSelect;

/** The lease the daemons sharing one database elect their leader with. */
export const DAEMON_LEASE = "daemon";

/**
 * Now, in milliseconds since the epoch, by the database's clock. On a libSQL
 * server every daemon reads the same clock, so their own clocks' skew never
 * decides who leads; for an embedded file it is the host's clock.
 */
const DB_NOW = sql`CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;

/** Proof of leadership that writes of rollout steps carry: the holder and term they were elected with. */
export interface Fence {
  name: string;
  holder: string;
  term: number;
  /** Told when a write was refused because the lease has another holder or term: the caller is deposed. */
  rejected(what: string): void;
}

/** A write refused because the writer no longer holds the lease it was elected with. */
export class FencedWriteError extends Error {
  constructor(what: string, fence: Fence) {
    super(`${what} refused: this daemon no longer leads (it was elected as term ${fence.term} of lease ${fence.name}); another daemon took over and acts now`);
    this.name = "FencedWriteError";
  }
}

/** Tells the fence's holder it is deposed, and refuses the write. */
export function refuse(what: string, fence: Fence): never {
  fence.rejected(what);
  throw new FencedWriteError(what, fence);
}

/** The SQL condition that holds while `fence` is still the lease's holder and term. */
export function stillLeads(fence: Fence): SQL {
  return sql`EXISTS (SELECT 1 FROM ${leases} WHERE ${leases.name} = ${fence.name} AND ${leases.holder} = ${fence.holder} AND ${leases.term} = ${fence.term})`;
}

/** Leases, taken and renewed by compare-and-set against the database's clock. */
export class LeaseRepository {
  constructor(private readonly db: Database) {}

  /**
   * Takes or renews the lease for `durationMs`: succeeds when nobody holds it,
   * when `holder` already does, or when the current holder's lease has expired
   * (the term then grows by one). One statement, so two daemons racing for an
   * expired lease cannot both win. Returns the term held, or undefined when
   * another holder's lease is still in force.
   */
  async acquire(name: string, holder: string, durationMs: number, address?: string): Promise<number | undefined> {
    const rows = await this.db.all<{ term: number }>(sql`
      INSERT INTO ${leases} (name, holder, term, address, acquired_at, renewed_at, expires_at)
      VALUES (${name}, ${holder}, 1, ${address ?? null}, ${DB_NOW}, ${DB_NOW}, ${DB_NOW} + ${durationMs})
      ON CONFLICT (name) DO UPDATE SET
        term = CASE WHEN leases.holder = excluded.holder THEN leases.term ELSE leases.term + 1 END,
        acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
        holder = excluded.holder,
        address = excluded.address,
        renewed_at = excluded.renewed_at,
        expires_at = excluded.expires_at
      WHERE leases.holder = excluded.holder OR leases.expires_at <= excluded.renewed_at
      RETURNING term`);
    return rows[0]?.term;
  }

  /** Lets the lease expire now, if `holder` still holds it as `term`: a daemon that stops cleanly hands over at once. */
  async release(name: string, holder: string, term: number): Promise<void> {
    await this.db.run(sql`UPDATE ${leases} SET expires_at = ${DB_NOW} WHERE name = ${name} AND holder = ${holder} AND term = ${term}`);
  }

  get(name: string): Promise<LeaseRow | undefined> {
    return this.db.select().from(leases).where(eq(leases.name, name)).get();
  }

  /** The database's clock now, in milliseconds since the epoch. */
  async now(): Promise<number> {
    const row = await this.db.get<{ now: number }>(sql`SELECT ${DB_NOW} AS now`);
    return Number(row!.now);
  }
}
