import { Cron } from "croner";
import type { ManifestError } from "../errors.ts";
import { DEFAULT_BACKUP_VOLUME } from "../types.ts";
import { problemAt, type Rule } from "./catalog.ts";

/** Why a cron expression cannot be scheduled, or undefined when it can. */
export function scheduleProblem(schedule: string): string | undefined {
  try {
    new Cron(schedule, { paused: true });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * A backup is of a named volume (a bind is already a host directory, a tmpfs
 * holds nothing worth keeping), on a schedule the cron library accepts, and
 * never into the volume it copies.
 */
export const backupsAreWellFormed: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const service of catalog.byKind.Service.values()) {
    service.resource.spec.volumes?.forEach((volume, i) => {
      const backup = volume.backup;
      if (!backup) return;
      const at = ["spec", "volumes", i, "backup"];
      if (volume.type !== "volume") {
        errors.push(problemAt(service, at, `only a named volume can be backed up; this mount has type ${volume.type}`, { expected: "type: volume", example: `{type: volume, source: data, target: ${volume.target}, backup: {schedule: "0 3 * * *", retain: {count: 7}}}`, target: "key" }));
      }
      const problem = scheduleProblem(backup.schedule);
      if (problem) {
        errors.push(problemAt(service, [...at, "schedule"], `backup schedule "${backup.schedule}" is not a cron expression: ${problem}`, { expected: "5 fields (minute hour day month weekday), 6 with seconds first, or @hourly/@daily/@weekly", example: 'schedule: "0 3 * * *"' }));
      }
      if (!backup.destination?.path && (backup.destination?.volume ?? DEFAULT_BACKUP_VOLUME) === volume.source) {
        const where = backup.destination?.volume ? [...at, "destination", "volume"] : at;
        errors.push(problemAt(service, where, `backups of volume ${volume.source} cannot be written into the volume itself`, { expected: "another named volume, or a path on the target host", example: "destination: {volume: archives}", ...(backup.destination?.volume ? {} : { target: "key" as const }) }));
      }
    });
  }
  return errors;
};
