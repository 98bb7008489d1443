import { Cron } from "croner";
import type { DesiredBackup } from "../desired/backups.ts";
import type { DesiredModel, DesiredService } from "../desired/model.ts";
import type { Driver } from "../docker/driver.ts";
import { backupBusy, backupLabels, runBackup, type BackupDeps } from "./run.ts";

/** Seconds between the next two runs of a schedule; undefined for one that runs once or never. */
export function scheduleIntervalSeconds(schedule: string, from?: Date): number | undefined {
  const [first, second] = new Cron(schedule, { paused: true }).nextRuns(2, from);
  return first && second ? (second.getTime() - first.getTime()) / 1000 : undefined;
}

interface Scheduled {
  cron: Cron;
  /** What the job was made from: a changed schedule or target makes a new one. */
  signature: string;
}

/**
 * Runs every declared volume backup on its schedule, in the daemon. A run
 * never overlaps another backup of the same volume or a restore of its
 * Service, in this process or another (it is skipped and logged), reads the Service and backup as the manifests say at that moment,
 * and reports a failure in the log once per distinct cause (each run is
 * still recorded, counted and an event).
 */
export class BackupScheduler {
  private readonly jobs = new Map<string, Scheduled>();
  private readonly running = new Set<Promise<void>>();
  private readonly lastError = new Map<string, string>();
  /** Backups running in this process, by id: a job remade for a changed schedule never overlaps its last run. */
  private readonly inFlight = new Set<string>();
  private model?: DesiredModel;
  private stopped = false;

  constructor(private readonly deps: BackupDeps & { driverFor: (target: string) => Driver }) {}

  /** Takes the backups a new desired model declares: new ones start, changed ones restart, removed ones stop. */
  sync(model: DesiredModel): void {
    if (this.stopped) return;
    const previous = this.model;
    this.model = model;
    const wanted = new Map<string, { service: DesiredService; backup: DesiredBackup }>();
    for (const service of model.services.values()) for (const backup of service.backups) wanted.set(backup.id, { service, backup });
    for (const [id, job] of this.jobs) {
      if (wanted.has(id)) continue;
      job.cron.stop();
      this.jobs.delete(id);
      this.lastError.delete(id);
      // A backup no longer declared has no schedule to miss: its series go, so no alert fires for it.
      const gone = previous && find(previous, id);
      if (gone) for (const gauge of this.gauges()) gauge.remove(backupLabels(gone.service, gone.backup));
    }
    for (const [id, { service, backup }] of wanted) {
      const signature = JSON.stringify([backup.schedule, service.target]);
      if (this.jobs.get(id)?.signature === signature) continue;
      this.jobs.get(id)?.cron.stop();
      const cron = new Cron(backup.schedule, async () => {
        if (this.inFlight.has(id)) return this.deps.log.warn("backup skipped: the previous one still runs", { backup: id });
        await this.track(id, this.run(id));
      });
      this.jobs.set(id, { cron, signature });
      const interval = scheduleIntervalSeconds(backup.schedule);
      if (interval !== undefined) this.deps.metrics?.backupInterval.set(backupLabels(service, backup), interval);
      void this.restoreLastSuccess(service, backup);
    }
  }

  /** When each volume's backups are next due, for the log and tests. */
  next(): Map<string, Date | null> {
    return new Map([...this.jobs].map(([id, job]) => [id, job.cron.nextRun()]));
  }

  /** Stops scheduling and waits for runs in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const job of this.jobs.values()) job.cron.stop();
    this.jobs.clear();
    await Promise.allSettled([...this.running]);
  }

  private async run(id: string): Promise<void> {
    const found = this.find(id);
    if (!found) return;
    const { service, backup } = found;
    try {
      // Another run of it (say `berth backup now`) or a restore has the volume: a copy taken meanwhile is worth nothing.
      const busy = await backupBusy(this.deps.store, service.key, backup.volume);
      if (busy) return this.deps.log.info("backup skipped", { backup: id, why: busy });
      const row = await runBackup(this.deps, this.deps.driverFor(service.target), service, backup, "schedule");
      this.report(id, row.status === "failed" ? (row.error ?? "failed") : undefined);
    } catch (error) {
      // The store or the target itself failed (before or while recording): counted, told once.
      this.deps.metrics?.backupRuns.inc({ ...backupLabels(service, backup), result: "failed" });
      this.report(id, `backup of volume ${backup.volume} failed: ${this.deps.redact(error instanceof Error ? error.message : String(error))}`);
    }
  }

  private find(id: string): { service: DesiredService; backup: DesiredBackup } | undefined {
    return this.model && find(this.model, id);
  }

  private gauges() {
    const m = this.deps.metrics;
    return m ? [m.backupLastSuccess, m.backupSize, m.backupDuration, m.backupInterval] : [];
  }

  /** Logs a failure when its cause differs from the last one of the same backup, and a recovery once. */
  private report(id: string, error: string | undefined): void {
    const last = this.lastError.get(id);
    if (error === undefined) {
      if (last !== undefined) this.deps.log.info("backup recovered", { backup: id });
      this.lastError.delete(id);
    } else if (error !== last) {
      this.lastError.set(id, error);
      this.deps.log.warn("backup failed", { backup: id, error });
    }
  }

  /** After a restart the metric of the last success comes from the store, so an alert on its age holds. */
  private async restoreLastSuccess(service: DesiredService, backup: DesiredBackup): Promise<void> {
    const [last] = await this.deps.store.backups.list({ service: service.key, volume: backup.volume, status: "succeeded", limit: 1 }).catch(() => []);
    if (last?.finishedAt) this.deps.metrics?.backupLastSuccess.set(backupLabels(service, backup), last.finishedAt / 1000);
    if (last?.sizeBytes !== null && last?.sizeBytes !== undefined) this.deps.metrics?.backupSize.set(backupLabels(service, backup), last.sizeBytes);
  }

  private track(id: string, promise: Promise<void>): Promise<void> {
    this.running.add(promise);
    this.inFlight.add(id);
    void promise.finally(() => {
      this.running.delete(promise);
      this.inFlight.delete(id);
    });
    return promise;
  }
}

/** A declared backup by its id, with its Service. */
function find(model: DesiredModel, id: string): { service: DesiredService; backup: DesiredBackup } | undefined {
  for (const service of model.services.values()) {
    const backup = service.backups.find((b) => b.id === id);
    if (backup) return { service, backup };
  }
  return undefined;
}
