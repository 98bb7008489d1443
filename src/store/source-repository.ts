import { eq } from "drizzle-orm";
import type { Database } from "./store.ts";
import { sources } from "./schema.ts";

export type SourceRow = typeof sources.$inferSelect;

/** What each followed git source last fetched, verified and put in force. */
export class SourceRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  async report(row: Omit<SourceRow, "updatedAt" | "conditions"> & { conditions: unknown[] }): Promise<void> {
    const values = { ...row, conditions: JSON.stringify(row.conditions), updatedAt: this.now() };
    await this.db.insert(sources).values(values).onConflictDoUpdate({ target: sources.name, set: values });
  }

  list(): Promise<SourceRow[]> {
    return this.db.select().from(sources).all();
  }

  get(name: string): Promise<SourceRow | undefined> {
    return this.db.select().from(sources).where(eq(sources.name, name)).get();
  }
}
