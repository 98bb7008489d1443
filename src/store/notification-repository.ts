import { and, asc, eq, inArray, lte } from "drizzle-orm";
import type { Database } from "./store.ts";
import { notificationOutbox } from "./schema.ts";

export type OutboxRow = typeof notificationOutbox.$inferSelect;

/**
 * The notification outbox: one row per (outcome, receiver), written when the
 * outcome is seen and advanced by the delivery loop. Rows hold no secret: the
 * receiver is named (`Project/shop#0`) and resolved when a row is sent.
 */
export class NotificationRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  /** Adds rows, due at `time` (the caller's clock); a row whose dedupe key exists already is ignored. Returns how many were new. */
  async enqueue(rows: readonly { dedupeKey: string; receiver: string; event: string; payload: string }[], time = this.now()): Promise<number> {
    if (rows.length === 0) return 0;
    const result = await this.db
      .insert(notificationOutbox)
      .values(rows.map((r) => ({ ...r, state: "pending", attempts: 0, nextAttemptAt: time, createdAt: time })))
      .onConflictDoNothing();
    return result.rowsAffected;
  }

  /** Pending rows due at `time`, oldest first. */
  due(time: number, limit = 50): Promise<OutboxRow[]> {
    return this.db
      .select()
      .from(notificationOutbox)
      .where(and(eq(notificationOutbox.state, "pending"), lte(notificationOutbox.nextAttemptAt, time)))
      .orderBy(asc(notificationOutbox.nextAttemptAt), asc(notificationOutbox.id))
      .limit(limit)
      .all();
  }

  /** When the next pending row is due, if any is pending. */
  async nextDue(): Promise<number | undefined> {
    const row = await this.db.select({ at: notificationOutbox.nextAttemptAt }).from(notificationOutbox).where(eq(notificationOutbox.state, "pending")).orderBy(asc(notificationOutbox.nextAttemptAt)).get();
    return row?.at;
  }

  delivered(id: number, attempts: number, time = this.now()): Promise<unknown> {
    return this.db.update(notificationOutbox).set({ state: "delivered", attempts, deliveredAt: time, lastError: null }).where(eq(notificationOutbox.id, id));
  }

  /** A failed attempt: the row waits until `nextAttemptAt`. */
  failed(id: number, attempts: number, error: string, nextAttemptAt: number): Promise<unknown> {
    return this.db.update(notificationOutbox).set({ attempts, lastError: error, nextAttemptAt }).where(eq(notificationOutbox.id, id));
  }

  /** Rows that will never be sent (their receiver is no longer declared), with the reason kept. */
  dropped(ids: readonly number[], reason: string, time = this.now()): Promise<unknown> {
    if (ids.length === 0) return Promise.resolve();
    return this.db.update(notificationOutbox).set({ state: "dropped", lastError: reason, deliveredAt: time }).where(inArray(notificationOutbox.id, [...ids]));
  }

  list(filter: { state?: string } = {}): Promise<OutboxRow[]> {
    return this.db.select().from(notificationOutbox).where(filter.state ? eq(notificationOutbox.state, filter.state) : undefined).orderBy(asc(notificationOutbox.id)).all();
  }
}
