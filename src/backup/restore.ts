import type { DesiredService } from "../desired/model.ts";
import type { Driver } from "../docker/driver.ts";
import { RESTORE_HEARTBEAT_MS, type BackupRow } from "../store/backup-repository.ts";
import { BackupError, helperContainer, parseDestination, serviceContainers, serviceEvent, tail } from "./job.ts";
import type { BackupDeps } from "./run.ts";
import { restoreScript, VOLUME } from "./script.ts";

/** What a restore did: the containers it stopped and started again. */
export interface RestoreResult {
  restoreId: number;
  stopped: string[];
}

/**
 * Puts a backup back into the volume it was taken from: holds the Service
 * (a running daemon neither starts nor replaces its containers meanwhile,
 * for as long as this process renews the hold), stops its running
 * containers, has a helper check the archive's sha256 and unpack it beside
 * the data before replacing the data with it, then starts the same
 * containers again and lets go. On any failure the containers are started
 * again and the error is thrown; a missing, damaged or unreadable archive
 * leaves the volume as it was.
 */
export async function restoreBackup(deps: BackupDeps, driver: Driver, service: DesiredService, row: BackupRow, image?: string): Promise<RestoreResult> {
  if (row.service !== service.key) throw new BackupError(`backup ${row.id} is of ${row.service}, not ${service.key}; expected an id from berth backups ${service.key.replace(/^Service\/[^/]+\//, "Service/")}`);
  const sha256 = row.sha256;
  if (row.status !== "succeeded" || !sha256) throw new BackupError(`backup ${row.id} is ${row.status}, so there is no archive to restore; expected a succeeded one from berth backups`);
  const { store } = deps;
  const restoreId = await store.backups.startRestore(service.key, row.id);
  // A restore killed half-way stops renewing: the Service is let go again soon after.
  const heartbeat = setInterval(() => void store.backups.renewRestore(restoreId).catch(() => {}), RESTORE_HEARTBEAT_MS);
  const stopped: string[] = [];
  let failure: string | undefined;
  try {
    const containers = await serviceContainers(driver, service);
    for (const c of containers.filter((c) => c.State === "running" || c.State === "restarting")) {
      await driver.stopContainer(c.Id, service.stopGraceSeconds, `restore backup ${row.id} into ${row.dockerVolume}`);
      stopped.push(c.Id);
    }
    const helperImage = image ?? containers[0]?.Image ?? service.image.ref;
    const result = await driver.runJob(
      helperContainer(service, {
        name: `${service.project}-${service.environment}-${service.service}-restore-${restoreId}`,
        image: helperImage,
        job: "restore",
        script: restoreScript(row.file, sha256),
        volume: { Type: "volume", Source: row.dockerVolume, Target: VOLUME, ReadOnly: false },
        destination: parseDestination(row.destination),
        destinationReadOnly: true,
      }),
      `restore backup ${row.id} into ${row.dockerVolume}`,
    );
    if (result.exitCode !== 0) throw new BackupError(`restoring backup ${row.id} failed in the helper container (image ${helperImage}), exit code ${result.exitCode}${tail(result, deps.redact)}`);
  } catch (error) {
    failure = deps.redact(error instanceof Error ? error.message : String(error));
    throw error instanceof BackupError ? error : new BackupError(failure, { cause: error });
  } finally {
    clearInterval(heartbeat);
    // The same containers run again whatever happened; the hold ends even if they cannot be started (the daemon will).
    try {
      for (const id of stopped) await driver.startContainer(id, `restore of backup ${row.id} ended`);
    } finally {
      await store.backups.finishRestore(restoreId, failure);
      await (failure ? serviceEvent(store, service, "Warning", "RestoreFailed", failure) : serviceEvent(store, service, "Normal", "Restored", `volume ${row.volume} restored from backup ${row.id}`));
    }
  }
  deps.log.info("backup restored", { service: service.key, volume: row.volume, backup: row.id, restarted: stopped.length });
  return { restoreId, stopped };
}
