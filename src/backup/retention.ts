import type { DesiredBackup } from "../desired/backups.ts";

/** One successful archive, as retention weighs it. */
export interface KeptArchive {
  id: number;
  /** When its backup started (ms). */
  startedAt: number;
}

/**
 * The archives to delete once a new one succeeded (`archives` includes it):
 * those beyond `retain.count` newest, and those older than `retain.age`. The
 * newest archive is always kept, so a long pause between backups never
 * leaves a volume with none.
 */
export function archivesToPrune(archives: readonly KeptArchive[], retain: DesiredBackup["retain"], now: number): number[] {
  const newestFirst = [...archives].sort((a, b) => b.startedAt - a.startedAt || b.id - a.id);
  return newestFirst
    .filter((archive, index) => {
      if (index === 0) return false;
      if (retain.count !== undefined && index >= retain.count) return true;
      return retain.ageMs !== undefined && now - archive.startedAt > retain.ageMs;
    })
    .map((archive) => archive.id);
}
