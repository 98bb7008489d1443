import { DEFAULT_BACKUP_VOLUME, type VolumeMount } from "../manifests/types.ts";
import { volumeName } from "./names.ts";
import { durationMs } from "./units.ts";

/** Where a volume's archives go on the target host. */
export type BackupDestination = { kind: "volume"; volume: string } | { kind: "path"; path: string };

/** One named volume of one Service in one Environment, backed up on a schedule: everything a backup run needs. */
export interface DesiredBackup {
  /** The Service's key and the volume's manifest name, e.g. `Service/production/db:data`. */
  id: string;
  /** The volume as the manifests name it (volumes[].source). */
  volume: string;
  /** The Docker volume. */
  dockerVolume: string;
  schedule: string;
  retain: { count?: number; ageMs?: number };
  destination: BackupDestination;
  preHook?: string[];
  postHook?: string[];
  /** The helper container's image, when not the Service's own. */
  image?: string;
}

/** The backups a Service's volumes ask for, with the Environment's volume names applied. */
export function desiredBackups(key: string, volumes: readonly VolumeMount[], project: string, environment: string, volumeNames?: Readonly<Record<string, string>>): DesiredBackup[] {
  return volumes.flatMap((v) => {
    const backup = v.backup;
    if (!backup || v.type !== "volume" || !v.source) return [];
    const { path, volume } = backup.destination ?? {};
    const destination: BackupDestination = path ? { kind: "path", path } : { kind: "volume", volume: volumeName(project, environment, volume ?? DEFAULT_BACKUP_VOLUME, volumeNames) };
    return [
      {
        id: `${key}:${v.source}`,
        volume: v.source,
        dockerVolume: volumeName(project, environment, v.source, volumeNames),
        schedule: backup.schedule,
        retain: { ...(backup.retain.count !== undefined ? { count: backup.retain.count } : {}), ...(backup.retain.age ? { ageMs: durationMs(backup.retain.age) } : {}) },
        destination,
        ...(backup.preHook ? { preHook: backup.preHook } : {}),
        ...(backup.postHook ? { postHook: backup.postHook } : {}),
        ...(backup.image ? { image: backup.image } : {}),
      },
    ];
  });
}

/** The named volumes backups are written to: the Environment makes them like any other. */
export function backupVolumes(backups: readonly DesiredBackup[]): string[] {
  return backups.flatMap((b) => (b.destination.kind === "volume" ? [b.destination.volume] : []));
}
