import { and, desc, eq, inArray, lt, notInArray, sql } from "drizzle-orm";
import type { Database } from "./store.ts";
import { refuse, stillLeads, type Fence } from "./lease-repository.ts";
import { auditLog, deployments, driftChecks, events, healthResults, notificationOutbox, parityReports, resources, targets } from "./schema.ts";

/** Kubernetes-style condition. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export type ResourceRow = typeof resources.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type HealthRow = typeof healthResults.$inferSelect;
export type DeploymentRow = typeof deployments.$inferSelect;
export type DeploymentStatus = "pending" | "in_progress" | "success" | "failed" | "rolled_back";
export type DeploymentTrigger = "manifest" | "rollback" | "retry";

/** A resource row as shown to people and machines: spec and conditions parsed. */
export function resourceView(row: ResourceRow) {
  return { ...row, spec: JSON.parse(row.spec) as unknown, conditions: JSON.parse(row.conditions) as Condition[] };
}

/** Splits `Kind/name` (the name may hold further slashes) into an event filter. */
export function involvedFilter(ref: string | undefined): { kind?: string; name?: string } {
  const [kind, ...rest] = (ref ?? "").split("/");
  return { kind: kind || undefined, name: rest.join("/") || undefined };
}

export class ConcurrentUpdateError extends Error {
  constructor(key: string) {
    super(`resource ${key} was changed by another writer while being updated; retry`);
    this.name = "ConcurrentUpdateError";
  }
}

/** What a write callback returns when it wrote nothing: the row need not be read again. */
const UNCHANGED = Symbol("unchanged");

/** Resource rows: spec and generation from the manifests, phase and conditions from the controllers. */
export class ResourceRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  get(key: string): Promise<ResourceRow | undefined> {
    return this.db.select().from(resources).where(eq(resources.key, key)).get();
  }

  list(): Promise<ResourceRow[]> {
    return this.db.select().from(resources).orderBy(resources.kind, resources.name).all();
  }

  /** Records a resource's desired spec; a new spec hash bumps its generation. Returns the row. */
  async declare(row: { key: string; kind: string; name: string; spec: unknown; specHash: string; sourceFile?: string; revision?: string }): Promise<ResourceRow> {
    return this.withRetry(row.key, async (current) => {
      const values = { spec: JSON.stringify(row.spec), specHash: row.specHash, sourceFile: row.sourceFile ?? null, revision: row.revision ?? null, updatedAt: this.now() };
      if (!current) {
        await this.db.insert(resources).values({ key: row.key, kind: row.kind, name: row.name, generation: 1, phase: "Pending", ...values }).onConflictDoNothing();
        return;
      }
      const sameSpec = current.specHash === row.specHash && current.spec === values.spec;
      if (sameSpec && current.revision === values.revision && current.sourceFile === values.sourceFile) return UNCHANGED;
      // Any change of the spec is a new generation (as in Kubernetes), also one that leaves the container revision alone.
      const generation = sameSpec ? current.generation : current.generation + 1;
      return this.update(current, { ...values, generation });
    });
  }

  /** Records what a controller made of a resource; the Ready condition changes its transition time only when its status flips. */
  async report(key: string, status: { phase: string; message: string; ready: boolean; reason?: string; converged: boolean }): Promise<void> {
    await this.withRetry(key, async (current) => {
      if (!current) return;
      const conditions = JSON.parse(current.conditions) as Condition[];
      const previous = conditions.find((c) => c.type === "Ready");
      const readyStatus = status.ready ? "True" : "False";
      const ready: Condition = {
        type: "Ready",
        status: readyStatus,
        reason: status.reason ?? status.phase,
        message: status.message,
        lastTransitionTime: previous && previous.status === readyStatus ? previous.lastTransitionTime : new Date(this.now()).toISOString(),
      };
      const next = JSON.stringify([...conditions.filter((c) => c.type !== "Ready"), ready]);
      const observedGeneration = status.converged ? current.generation : current.observedGeneration;
      if (current.phase === status.phase && current.message === status.message && current.conditions === next && current.observedGeneration === observedGeneration) return UNCHANGED;
      return this.update(current, { phase: status.phase, message: status.message, conditions: next, observedGeneration, updatedAt: this.now() });
    });
  }

  /** Removes rows of resources no longer declared. */
  async forget(keys: string[]): Promise<void> {
    for (const key of keys) await this.db.delete(resources).where(eq(resources.key, key));
  }

  private async update(current: ResourceRow, values: Partial<ResourceRow>): Promise<void> {
    const result = await this.db
      .update(resources)
      .set({ ...values, stateVersion: current.stateVersion + 1 })
      .where(and(eq(resources.key, current.key), eq(resources.stateVersion, current.stateVersion)));
    if (result.rowsAffected === 0) throw new ConcurrentUpdateError(current.key);
  }

  /** Optimistic concurrency: re-read and retry when another writer got there first. */
  /** Reads the row, writes, and reads it again only when the write changed it (most passes change nothing). */
  private async withRetry(key: string, write: (current: ResourceRow | undefined) => Promise<unknown>): Promise<ResourceRow> {
    for (let attempt = 1; ; attempt++) {
      try {
        const current = await this.get(key);
        if ((await write(current)) === UNCHANGED && current) return current;
        return (await this.get(key))!;
      } catch (error) {
        if (!(error instanceof ConcurrentUpdateError) || attempt >= 5) throw error;
      }
    }
  }
}

/** Events: the same event for the same object folds into one row with a count. */
export class EventRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  async record(event: { type: "Normal" | "Warning"; reason: string; message: string; kind: string; name: string; commit?: string }): Promise<void> {
    const time = this.now();
    const commit = event.commit ?? null;
    await this.db
      .insert(events)
      .values({ type: event.type, reason: event.reason, message: event.message, involvedKind: event.kind, involvedName: event.name, commit, firstTime: time, lastTime: time })
      .onConflictDoUpdate({
        target: [events.involvedKind, events.involvedName, events.type, events.reason, events.message],
        set: { count: sql`${events.count} + 1`, lastTime: time, commit },
      });
  }

  list(filter: { kind?: string; name?: string; limit?: number } = {}): Promise<EventRow[]> {
    const where = and(filter.kind ? eq(events.involvedKind, filter.kind) : undefined, filter.name ? eq(events.involvedName, filter.name) : undefined);
    return this.db.select().from(events).where(where).orderBy(desc(events.lastTime), desc(events.id)).limit(filter.limit ?? 100).all();
  }
}

export type HealthInput = Omit<typeof healthResults.$inferInsert, "id">;

/** Health results per container over time. */
export class HealthRepository {
  constructor(private readonly db: Database) {}

  async insert(rows: HealthInput[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 500) await this.db.insert(healthResults).values(rows.slice(i, i + 500));
  }

  list(filter: { service?: string; instance?: string; limit?: number } = {}): Promise<HealthRow[]> {
    const where = and(filter.service ? eq(healthResults.service, filter.service) : undefined, filter.instance ? eq(healthResults.instance, filter.instance) : undefined);
    return this.db.select().from(healthResults).where(where).orderBy(desc(healthResults.time), desc(healthResults.id)).limit(filter.limit ?? 50).all();
  }
}

/** Rollouts of service revisions. */
/**
 * Rollouts of service revisions. Under a lease, opening and closing a row
 * carries the leader's fence, as rollout records do (rollout-repositories.ts).
 */
export class DeploymentRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now, private readonly fence: () => Fence | undefined = () => undefined) {}

  /** Opens a rollout's row; it is `pending` until its image is being prepared. */
  async start(row: { service: string; revision: string; image: string; commit?: string; previousRevision?: string; trigger?: DeploymentTrigger; status?: "pending" | "in_progress" }): Promise<number> {
    const values = { ...row, commit: row.commit ?? null, previousRevision: row.previousRevision ?? null, trigger: row.trigger ?? "manifest", status: row.status ?? "in_progress", startedAt: this.now() };
    const fence = this.fence();
    if (fence) {
      const [fenced] = await this.db.all<{ id: number }>(sql`
        INSERT INTO ${deployments} (service, revision, image, manifest_revision, previous_revision, trigger, status, started_at)
        SELECT ${values.service}, ${values.revision}, ${values.image}, ${values.commit}, ${values.previousRevision}, ${values.trigger}, ${values.status}, ${values.startedAt}
        WHERE ${stillLeads(fence)} RETURNING id`);
      if (!fenced) refuse(`opening a rollout of ${row.service}`, fence);
      return fenced!.id;
    }
    const [inserted] = await this.db.insert(deployments).values(values).returning({ id: deployments.id });
    return inserted!.id;
  }

  /** Moves a rollout along: `in_progress`, or a final status with its outcome. */
  async finish(id: number, outcome: { status: DeploymentStatus; healthCheckPassed?: boolean; error?: string; imageDigest?: string }): Promise<void> {
    const final = outcome.status !== "pending" && outcome.status !== "in_progress";
    const fence = this.fence();
    const updated = await this.db
      .update(deployments)
      .set({ ...outcome, completedAt: final ? this.now() : null })
      .where(and(eq(deployments.id, id), fence ? stillLeads(fence) : undefined));
    if (fence && updated.rowsAffected === 0 && (await this.db.all(sql`SELECT 1 AS held WHERE ${stillLeads(fence)}`)).length === 0) refuse(`recording how rollout ${id} ended`, fence);
  }

  /** Successful rollouts of a service, newest first. */
  successful(service: string, limit = 50): Promise<DeploymentRow[]> {
    return this.db.select().from(deployments).where(and(eq(deployments.service, service), eq(deployments.status, "success"))).orderBy(desc(deployments.startedAt), desc(deployments.id)).limit(limit).all();
  }

  /** The newest finished rollout that left a revision running (success, or rolled back to the previous one). */
  lastOutcome(service: string): Promise<DeploymentRow | undefined> {
    return this.db
      .select()
      .from(deployments)
      .where(and(eq(deployments.service, service), inArray(deployments.status, ["success", "rolled_back"])))
      .orderBy(desc(deployments.startedAt), desc(deployments.id))
      .get();
  }

  /** Rows still open (pending or in progress), e.g. left by a crash. */
  open(): Promise<DeploymentRow[]> {
    return this.db.select().from(deployments).where(inArray(deployments.status, ["pending", "in_progress"])).all();
  }

  get(id: number): Promise<DeploymentRow | undefined> {
    return this.db.select().from(deployments).where(eq(deployments.id, id)).get();
  }

  latest(service: string): Promise<DeploymentRow | undefined> {
    return this.db.select().from(deployments).where(eq(deployments.service, service)).orderBy(desc(deployments.startedAt), desc(deployments.id)).get();
  }

  list(filter: { service?: string; limit?: number } = {}): Promise<DeploymentRow[]> {
    return this.db.select().from(deployments).where(filter.service ? eq(deployments.service, filter.service) : undefined).orderBy(desc(deployments.startedAt), desc(deployments.id)).limit(filter.limit ?? 50).all();
  }
}

export interface Difference {
  path: string;
  observed: string;
  desired: string;
}

/** Drift found (and repaired) on already-converged specs. */
export class DriftRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  async record(key: string, differences: Difference[], repaired: boolean): Promise<void> {
    await this.db.insert(driftChecks).values({ key, time: this.now(), differences: JSON.stringify(differences), repaired });
  }

  list(key?: string) {
    return this.db.select().from(driftChecks).where(key ? eq(driftChecks.key, key) : undefined).orderBy(desc(driftChecks.time), desc(driftChecks.id)).all();
  }
}

/** Engines Berth deploys to. */
export class TargetRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  async report(row: { name: string; status: string; engineVersion?: string; apiVersion?: string; latencyMs?: number; error?: string }): Promise<void> {
    const time = this.now();
    const values = { status: row.status, engineVersion: row.engineVersion ?? null, apiVersion: row.apiVersion ?? null, latencyMs: row.latencyMs ?? null, error: row.error ?? null, updatedAt: time, ...(row.status === "Active" ? { lastSeen: time } : {}) };
    await this.db.insert(targets).values({ name: row.name, ...values }).onConflictDoUpdate({ target: targets.name, set: values });
  }

  list() {
    return this.db.select().from(targets).orderBy(targets.name).all();
  }
}

/** Every mutating Docker call. */
export class AuditRepository {
  constructor(private readonly db: Database) {}

  async record(rows: (typeof auditLog.$inferInsert)[]): Promise<void> {
    if (rows.length) await this.db.insert(auditLog).values(rows);
  }

  list(filter: { target?: string; limit?: number } = {}) {
    return this.db.select().from(auditLog).where(filter.target ? eq(auditLog.target, filter.target) : undefined).orderBy(desc(auditLog.time), desc(auditLog.id)).limit(filter.limit ?? 100).all();
  }
}

import type { Retention } from "./defaults.ts";
export { DEFAULT_RETENTION, type Retention } from "./defaults.ts";

/** Deletes rows older than their retention; returns how many went. */
export async function enforceRetention(db: Database, retention: Retention, now = Date.now()): Promise<number> {
  const results = await Promise.all([
    db.delete(healthResults).where(lt(healthResults.time, now - retention.healthMs)),
    db.delete(events).where(lt(events.lastTime, now - retention.eventsMs)),
    db.delete(auditLog).where(lt(auditLog.time, now - retention.auditMs)),
    db.delete(driftChecks).where(lt(driftChecks.time, now - retention.driftMs)),
    db.delete(parityReports).where(lt(parityReports.time, now - retention.deploymentsMs)),
    // Sent and dropped notifications are history, kept as long as events; pending ones wait for delivery however old.
    db.delete(notificationOutbox).where(and(inArray(notificationOutbox.state, ["delivered", "dropped"]), lt(notificationOutbox.deliveredAt, now - retention.eventsMs))),
    // A service's newest rollout is kept however old: it is what the next one rolls back to.
    db.delete(deployments).where(and(lt(deployments.startedAt, now - retention.deploymentsMs), notInArray(deployments.id, db.select({ id: sql<number>`max(${deployments.id})` }).from(deployments).groupBy(deployments.service)))),
  ]);
  return results.reduce((n, r) => n + r.rowsAffected, 0);
}
