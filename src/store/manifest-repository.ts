import { eq, inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ManifestFileError, ManifestFileHealth } from "../manifests/health.ts";
import type { FileState } from "../manifests/load.ts";
import type { Database } from "./store.ts";
import { manifestFiles } from "./schema.ts";

/** A manifest file's row as shown to people and machines: errors and resources parsed. */
export interface ManifestFileRow extends ManifestFileHealth {
  updatedAt: number;
}

/** Each manifest file's health as of the last load. */
export class ManifestFileRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  /**
   * Replaces the full set with `files`, in one transaction. A row whose content
   * is unchanged keeps its `updatedAt`, so a broken file's row says since when.
   */
  async replace(files: readonly ManifestFileHealth[]): Promise<void> {
    const existing = new Map((await this.db.select().from(manifestFiles).all()).map((r) => [r.file, r]));
    const time = this.now();
    const statements: BatchItem<"sqlite">[] = [];
    const gone = [...existing.keys()].filter((file) => !files.some((f) => f.file === file));
    if (gone.length) statements.push(this.db.delete(manifestFiles).where(inArray(manifestFiles.file, gone)));
    for (const f of files) {
      const values = { state: f.state, errors: JSON.stringify(f.errors), resources: JSON.stringify(f.resources) };
      const row = existing.get(f.file);
      if (row && row.state === values.state && row.errors === values.errors && row.resources === values.resources) continue;
      statements.push(
        row
          ? this.db.update(manifestFiles).set({ ...values, updatedAt: time }).where(eq(manifestFiles.file, f.file))
          : this.db.insert(manifestFiles).values({ file: f.file, ...values, updatedAt: time }).onConflictDoUpdate({ target: manifestFiles.file, set: { ...values, updatedAt: time } }),
      );
    }
    const [first, ...rest] = statements;
    if (first) await this.db.batch([first, ...rest]);
  }

  /** Every file, ordered by path. */
  async list(): Promise<ManifestFileRow[]> {
    const rows = await this.db.select().from(manifestFiles).orderBy(manifestFiles.file).all();
    return rows.map((r) => ({ file: r.file, state: r.state as FileState, errors: JSON.parse(r.errors) as ManifestFileError[], resources: JSON.parse(r.resources) as string[], updatedAt: r.updatedAt }));
  }
}
