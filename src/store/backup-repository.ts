import { and, desc, eq, gt, inArray } from "drizzle-orm";
import type { Database } from "./store.ts";
import { backups, restores } from "./schema.ts";

export type BackupRow = typeof backups.$inferSelect;
export type RestoreRow = typeof restores.$inferSelect;
export type BackupStatus = "running" | "succeeded" | "failed" | "pruned";

/**
 * A running restore renews its heartbeat every RESTORE_HEARTBEAT_MS; one not
 * renewed for RESTORE_HOLD_MS is taken as abandoned (its process died) and no
 * longer holds the Service, so a killed `berth restore` cannot keep a Service
 * down for good, however long restores may take.
 */
export const RESTORE_HEARTBEAT_MS = 20_000;
export const RESTORE_HOLD_MS = 90_000;

/** A backup still `running` after this long is taken as abandoned (the job limit has passed). */
export const BACKUP_ABANDONED_MS = 6 * 3_600_000;

/** Backup runs and restores; what `berth backups` lists and what retention and restores read. */
export class BackupRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  /** Records a run that starts now; returns its id (the archive is named after it). */
  async start(row: Pick<BackupRow, "service" | "volume" | "dockerVolume" | "target" | "destination" | "file" | "trigger">): Promise<number> {
    const [added] = await this.db.insert(backups).values({ ...row, status: "running", startedAt: this.now() }).returning({ id: backups.id });
    return added!.id;
  }

  /** Names the archive once the id is known. */
  async setFile(id: number, file: string): Promise<void> {
    await this.db.update(backups).set({ file }).where(eq(backups.id, id));
  }

  async succeeded(id: number, result: { sizeBytes: number; sha256: string }): Promise<void> {
    await this.db.update(backups).set({ status: "succeeded", finishedAt: this.now(), ...result }).where(eq(backups.id, id));
  }

  async failed(id: number, error: string): Promise<void> {
    await this.db.update(backups).set({ status: "failed", finishedAt: this.now(), error }).where(eq(backups.id, id));
  }

  /** Archives retention deleted: the rows stay, as history. */
  async pruned(ids: readonly number[]): Promise<void> {
    if (ids.length) await this.db.update(backups).set({ status: "pruned" }).where(inArray(backups.id, [...ids]));
  }

  get(id: number): Promise<BackupRow | undefined> {
    return this.db.select().from(backups).where(eq(backups.id, id)).get();
  }

  /** Newest first; of one Service (and volume) when given. */
  list(filter: { service?: string; volume?: string; status?: BackupStatus; limit?: number } = {}): Promise<BackupRow[]> {
    const where = and(filter.service ? eq(backups.service, filter.service) : undefined, filter.volume ? eq(backups.volume, filter.volume) : undefined, filter.status ? eq(backups.status, filter.status) : undefined);
    return this.db.select().from(backups).where(where).orderBy(desc(backups.startedAt), desc(backups.id)).limit(filter.limit ?? 100).all();
  }

  /** A backup of the service (or of one volume) that runs now, in any process. */
  running(service: string, volume?: string): Promise<BackupRow | undefined> {
    return this.db
      .select()
      .from(backups)
      .where(and(eq(backups.service, service), volume ? eq(backups.volume, volume) : undefined, eq(backups.status, "running"), gt(backups.startedAt, this.now() - BACKUP_ABANDONED_MS)))
      .get();
  }

  async startRestore(service: string, backupId: number): Promise<number> {
    const time = this.now();
    const [added] = await this.db.insert(restores).values({ service, backupId, status: "running", startedAt: time, heartbeatAt: time }).returning({ id: restores.id });
    return added!.id;
  }

  /** Keeps a running restore's hold. */
  async renewRestore(id: number): Promise<void> {
    await this.db.update(restores).set({ heartbeatAt: this.now() }).where(and(eq(restores.id, id), eq(restores.status, "running")));
  }

  async finishRestore(id: number, error?: string): Promise<void> {
    await this.db.update(restores).set({ status: error ? "failed" : "succeeded", finishedAt: this.now(), error: error ?? null }).where(eq(restores.id, id));
  }

  /** The restore holding `service` now, if one runs (and has not been abandoned). */
  activeRestore(service: string): Promise<RestoreRow | undefined> {
    return this.db
      .select()
      .from(restores)
      .where(and(eq(restores.service, service), eq(restores.status, "running"), gt(restores.heartbeatAt, this.now() - RESTORE_HOLD_MS)))
      .orderBy(desc(restores.id))
      .get();
  }
}
