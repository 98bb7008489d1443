import { and, eq, sql } from "drizzle-orm";
import type { Database } from "./store.ts";
import { refuse, stillLeads, type Fence } from "./lease-repository.ts";
import { actorSnapshots, revisions, servicePins } from "./schema.ts";

export type PinRow = typeof servicePins.$inferSelect;

/** Container specs of the revisions Berth rolled out (secret values replaced by their names). */
export class RevisionRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  /** Stores a revision's spec once; a revision's spec never changes, so a second save is a no-op. */
  async save(service: string, revision: string, spec: unknown): Promise<void> {
    await this.db.insert(revisions).values({ service, revision, spec: JSON.stringify(spec), createdAt: this.now() }).onConflictDoNothing();
  }

  async get(service: string, revision: string): Promise<unknown | undefined> {
    const row = await this.db.select().from(revisions).where(and(eq(revisions.service, service), eq(revisions.revision, revision))).get();
    return row ? (JSON.parse(row.spec) as unknown) : undefined;
  }
}

/** Services held on another revision than their manifest asks for. */
export class PinRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  async set(pin: { service: string; manifestRevision: string; runRevision: string | null; reason: string }): Promise<void> {
    const values = { ...pin, since: this.now() };
    await this.db.insert(servicePins).values(values).onConflictDoUpdate({ target: servicePins.service, set: values });
  }

  get(service: string): Promise<PinRow | undefined> {
    return this.db.select().from(servicePins).where(eq(servicePins.service, service)).get();
  }

  list(): Promise<PinRow[]> {
    return this.db.select().from(servicePins).all();
  }

  async clear(service: string): Promise<void> {
    await this.db.delete(servicePins).where(eq(servicePins.service, service));
  }
}

/**
 * Persisted actor snapshots: a rollout's steps. Under a lease (`berth run`
 * electing a leader) each write carries the leader's fence and lands only
 * while that holder and term still hold the lease, so a deposed leader's late
 * write changes nothing and tells it so.
 */
export class SnapshotRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now, private readonly fence: () => Fence | undefined = () => undefined) {}

  async save(id: string, machine: string, snapshot: unknown): Promise<void> {
    const values = { machine, snapshot: JSON.stringify(snapshot), updatedAt: this.now() };
    const fence = this.fence();
    if (!fence) {
      await this.db.insert(actorSnapshots).values({ id, ...values }).onConflictDoUpdate({ target: actorSnapshots.id, set: values });
      return;
    }
    const result = await this.db.run(sql`
      INSERT INTO ${actorSnapshots} (id, machine, snapshot, updated_at)
      SELECT ${id}, ${values.machine}, ${values.snapshot}, ${values.updatedAt} WHERE ${stillLeads(fence)}
      ON CONFLICT (id) DO UPDATE SET machine = excluded.machine, snapshot = excluded.snapshot, updated_at = excluded.updated_at`);
    if (result.rowsAffected === 0) refuse(`writing the rollout record ${id}`, fence);
  }

  async load(id: string): Promise<unknown | undefined> {
    const row = await this.db.select().from(actorSnapshots).where(eq(actorSnapshots.id, id)).get();
    return row ? JSON.parse(row.snapshot) : undefined;
  }

  async remove(id: string): Promise<void> {
    const fence = this.fence();
    if (!fence) {
      await this.db.delete(actorSnapshots).where(eq(actorSnapshots.id, id));
      return;
    }
    const deleted = await this.db.delete(actorSnapshots).where(and(eq(actorSnapshots.id, id), stillLeads(fence)));
    if (deleted.rowsAffected > 0) return;
    // Nothing deleted: either there was no record, or the fence no longer holds.
    const held = await this.db.all(sql`SELECT 1 AS held WHERE ${stillLeads(fence)}`);
    if (held.length === 0) refuse(`removing the rollout record ${id}`, fence);
  }

  /** Every stored snapshot of one machine, e.g. all in-flight rollouts. */
  async list(machine: string): Promise<{ id: string; snapshot: unknown }[]> {
    const rows = await this.db.select().from(actorSnapshots).where(eq(actorSnapshots.machine, machine)).all();
    return rows.map((row) => ({ id: row.id, snapshot: JSON.parse(row.snapshot) as unknown }));
  }
}
