import { and, asc, eq, gte, inArray, isNull, lt, lte, notExists, or, sql } from "drizzle-orm";
import type { Database } from "./store.ts";
import { deployments, notificationOutbox } from "./schema.ts";

export type OutboxRow = typeof notificationOutbox.$inferSelect;
/** A `deployments` row, as a rollout's notification reads it. */
export type OutboxDeployment = typeof deployments.$inferSelect;

/** Rows no process holds at `time`: never claimed, or their claim ran out. */
const unclaimed = (time: number) => or(isNull(notificationOutbox.claimedUntil), lt(notificationOutbox.claimedUntil, time));

/**
 * The notification outbox: one row per (outcome, receiver), written when the
 * outcome is seen and advanced by the delivery loop. Rows hold no secret: the
 * receiver is named by its stable identity (`Project/shop/ops-slack`) and
 * resolved when a row is sent. A process claims rows before it sends them, so
 * a daemon and `berth apply` never send the same row.
 */
export class NotificationRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  /** Adds rows, due at `time` (the caller's clock); a row whose dedupe key exists already is ignored. Returns the ids of the new rows. */
  async enqueue(rows: readonly { dedupeKey: string; receiver: string; event: string; payload: string }[], time = this.now()): Promise<number[]> {
    if (rows.length === 0) return [];
    const added = await this.db
      .insert(notificationOutbox)
      .values(rows.map((r) => ({ ...r, state: "pending", attempts: 0, nextAttemptAt: time, createdAt: time })))
      .onConflictDoNothing()
      .returning({ id: notificationOutbox.id });
    return added.map((r) => r.id);
  }

  /** Pending rows due and unclaimed at `time`, oldest first; only those of `ids` when given. */
  due(time: number, limit = 50, ids?: readonly number[]): Promise<OutboxRow[]> {
    return this.db
      .select()
      .from(notificationOutbox)
      .where(and(eq(notificationOutbox.state, "pending"), lte(notificationOutbox.nextAttemptAt, time), unclaimed(time), ids ? inArray(notificationOutbox.id, [...ids]) : undefined))
      .orderBy(asc(notificationOutbox.nextAttemptAt), asc(notificationOutbox.id))
      .limit(limit)
      .all();
  }

  /**
   * Takes pending, unclaimed rows of `ids` for this process until `until`, in
   * one statement: of two processes claiming the same row, one gets it.
   * Returns the rows taken.
   */
  claim(ids: readonly number[], until: number, time = this.now()): Promise<OutboxRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db
      .update(notificationOutbox)
      .set({ claimedUntil: until })
      .where(and(inArray(notificationOutbox.id, [...ids]), eq(notificationOutbox.state, "pending"), unclaimed(time)))
      .returning()
      .all();
  }

  /** When the next pending row is due and unclaimed, if any is pending. */
  async nextDue(): Promise<number | undefined> {
    const at = sql<number>`max(${notificationOutbox.nextAttemptAt}, coalesce(${notificationOutbox.claimedUntil}, 0))`;
    const row = await this.db.select({ at }).from(notificationOutbox).where(eq(notificationOutbox.state, "pending")).orderBy(asc(at)).get();
    return row?.at;
  }

  delivered(id: number, attempts: number, time = this.now()): Promise<unknown> {
    return this.db.update(notificationOutbox).set({ state: "delivered", attempts, deliveredAt: time, lastError: null, claimedUntil: null }).where(eq(notificationOutbox.id, id));
  }

  /** A failed attempt: the row waits until `nextAttemptAt`. */
  failed(id: number, attempts: number, error: string, nextAttemptAt: number): Promise<unknown> {
    return this.db.update(notificationOutbox).set({ attempts, lastError: error, nextAttemptAt, claimedUntil: null }).where(eq(notificationOutbox.id, id));
  }

  /** Rows not tried this time (their receiver failed just before, or berth stopped): released, due again at `nextAttemptAt`, no attempt counted. */
  deferred(ids: readonly number[], nextAttemptAt: number): Promise<unknown> {
    if (ids.length === 0) return Promise.resolve();
    return this.db.update(notificationOutbox).set({ nextAttemptAt, claimedUntil: null }).where(inArray(notificationOutbox.id, [...ids]));
  }

  /** Rows that will never be sent (their receiver is no longer declared), with the reason kept. */
  dropped(ids: readonly number[], reason: string, time = this.now()): Promise<unknown> {
    if (ids.length === 0) return Promise.resolve();
    return this.db.update(notificationOutbox).set({ state: "dropped", lastError: reason, deliveredAt: time, claimedUntil: null }).where(inArray(notificationOutbox.id, [...ids]));
  }

  list(filter: { state?: string } = {}): Promise<OutboxRow[]> {
    return this.db.select().from(notificationOutbox).where(filter.state ? eq(notificationOutbox.state, filter.state) : undefined).orderBy(asc(notificationOutbox.id)).all();
  }

  /**
   * Rollouts that ended since `time` (success, failed or rolled back) and of
   * which no notification was queued (rows of one outcome are written in one
   * statement, so none means none), oldest first: a crash between ending a
   * rollout and queueing its notification left them out.
   */
  endedWithoutNotification(time: number): Promise<OutboxDeployment[]> {
    const queued = this.db
      .select({ one: sql`1` })
      .from(notificationOutbox)
      .where(sql`${notificationOutbox.dedupeKey} like 'deployment:' || ${deployments.id} || ':%'`);
    return this.db
      .select()
      .from(deployments)
      .where(and(inArray(deployments.status, ["success", "failed", "rolled_back"]), gte(deployments.completedAt, time), notExists(queued)))
      .orderBy(asc(deployments.completedAt))
      .all();
  }
}
