import type { DesiredBackup } from "../desired/backups.ts";
import type { DesiredService } from "../desired/model.ts";
import type { Driver, JobResult } from "../docker/driver.ts";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Store } from "../store/index.ts";
import type { BackupRow } from "../store/backup-repository.ts";
import { BackupError, describeDestination, ensureDestination, helperContainer, runHook, serviceContainers, serviceEvent, tail } from "./job.ts";
import { archivesToPrune } from "./retention.ts";
import { backupScript, parseBackupOutput, pruneScript, SOURCE } from "./script.ts";

/** What a backup or restore runs with; passed in by the daemon or the CLI. */
export interface BackupDeps {
  store: Pick<Store, "backups" | "events">;
  log: Logger;
  metrics?: Metrics;
  now: () => number;
  /** Masks secret values in hook output before it reaches a message. */
  redact: (text: string) => string;
}

export type BackupTrigger = "schedule" | "manual";

/** `20261203T031500Z`: sorts as it reads. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** Metric labels of one volume's backups. */
export function backupLabels(service: DesiredService, backup: DesiredBackup) {
  return { project: service.project, environment: service.environment, service: service.service, volume: backup.volume };
}

/** Why a backup of the volume cannot start now (one runs, or a restore of the service does), in any process; undefined when it can. */
export async function backupBusy(store: Pick<Store, "backups">, service: string, volume: string): Promise<string | undefined> {
  const running = await store.backups.running(service, volume);
  if (running) return `backup ${running.id} of volume ${volume} of ${service} is still running`;
  const restore = await store.backups.activeRestore(service);
  if (restore) return `backup ${restore.backupId} is being restored into ${service}`;
  return undefined;
}

/**
 * Backs one volume up: the preHook in a running replica, then a helper
 * container that mounts the volume read-only and writes a gzip tar and its
 * sha256 to the destination, deleting the archives retention lets go only
 * once the new one is in place; then the postHook. Recorded in the store
 * (the row is returned, failed or not), as an event and in the metrics. A
 * failure keeps every earlier archive.
 */
export async function runBackup(deps: BackupDeps, driver: Driver, service: DesiredService, backup: DesiredBackup, trigger: BackupTrigger): Promise<BackupRow> {
  const { store, now } = deps;
  const started = now();
  const destination = describeDestination(backup.destination);
  const id = await store.backups.start({ service: service.key, volume: backup.volume, dockerVolume: backup.dockerVolume, target: service.target, destination, file: "", trigger });
  const file = `${service.project}-${service.environment}/${service.service}/${backup.volume}/${stamp(started)}-${id}.tar.gz`;
  await store.backups.setFile(id, file);
  const labels = backupLabels(service, backup);
  let postHookError: string | undefined;
  try {
    const [replica] = await serviceContainers(driver, service);
    if (backup.preHook) await runHook(driver, replica, "preHook", backup.preHook, service.key, deps.redact);
    try {
      await ensureDestination(driver, service, backup.destination);
      const image = backup.image ?? replica?.Image ?? service.image.ref;
      const helper = (job: string, script: string) =>
        helperContainer(service, { name: `${service.project}-${service.environment}-${service.service}-${job}-${id}`, image, job: "backup", script, volume: { Type: "volume", Source: backup.dockerVolume, Target: SOURCE, ReadOnly: true }, destination: backup.destination, destinationReadOnly: false });
      const result = await driver.runJob(helper("backup", backupScript(file)), `backup of volume ${backup.volume} of ${service.key}`);
      const made = parseBackupOutput(result.output);
      if (result.exitCode !== 0 || !made) throw new BackupError(`the helper container (image ${image}) exited with code ${result.exitCode}${tail(result, deps.redact)}; expected an image with sh, tar, gzip and sha256sum (set backup.image)`);
      await store.backups.succeeded(id, made);
      // Only now, with the new archive on record, do older ones go.
      const pruned = await pruneOld(deps, service, backup, destination, started, (files) => driver.runJob(helper("prune", pruneScript(files)), `retention of volume ${backup.volume} of ${service.key}`));
      const seconds = (now() - started) / 1000;
      deps.metrics?.backupLastSuccess.set(labels, now() / 1000);
      deps.metrics?.backupSize.set(labels, made.sizeBytes);
      deps.metrics?.backupRuns.inc({ ...labels, result: "succeeded" });
      await serviceEvent(store, service, "Normal", "BackupSucceeded", `volume ${backup.volume} backed up to ${destination}`);
      deps.log.info("backup succeeded", { service: service.key, volume: backup.volume, backup: id, file, bytes: made.sizeBytes, seconds: Number(seconds.toFixed(2)), pruned });
    } finally {
      // Reached only once the preHook, if any, succeeded.
      if (backup.postHook) {
        postHookError = await runHook(driver, replica, "postHook", backup.postHook, service.key, deps.redact).then(
          () => undefined,
          (error: unknown) => (error instanceof Error ? error.message : String(error)),
        );
      }
    }
  } catch (error) {
    const message = `backup of volume ${backup.volume} failed: ${deps.redact(error instanceof Error ? error.message : String(error))}`;
    await store.backups.failed(id, message);
    deps.metrics?.backupRuns.inc({ ...labels, result: "failed" });
    await serviceEvent(store, service, "Warning", "BackupFailed", message);
  } finally {
    deps.metrics?.backupDuration.set(labels, (now() - started) / 1000);
  }
  // The archive stands; a cleanup that failed is told, not hidden.
  if (postHookError) await serviceEvent(store, service, "Warning", "BackupPostHookFailed", postHookError);
  return (await store.backups.get(id))!;
}

/**
 * Deletes the archives retention lets go (of this volume, in the same
 * destination on the same target) with `deleteFiles`, and marks them pruned;
 * a deletion that fails is a warning and the rows stay. Returns how many went.
 */
async function pruneOld(deps: BackupDeps, service: DesiredService, backup: DesiredBackup, destination: string, now: number, deleteFiles: (files: string[]) => Promise<JobResult>): Promise<number> {
  const { store } = deps;
  const kept = (await store.backups.list({ service: service.key, volume: backup.volume, status: "succeeded", limit: 10_000 })).filter((r) => r.destination === destination && r.target === service.target);
  const prune = new Set(archivesToPrune(kept, backup.retain, now));
  const pruned = kept.filter((r) => prune.has(r.id));
  if (pruned.length === 0) return 0;
  const deleted = await deleteFiles(pruned.map((r) => r.file));
  if (deleted.exitCode !== 0) {
    await serviceEvent(store, service, "Warning", "BackupPruneFailed", `old archives of volume ${backup.volume} could not be deleted (exit code ${deleted.exitCode})${tail(deleted, deps.redact)}`);
    return 0;
  }
  await store.backups.pruned(pruned.map((r) => r.id));
  return pruned.length;
}
