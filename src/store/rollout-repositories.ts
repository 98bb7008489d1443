import { and, eq } from "drizzle-orm";
import type { Database } from "./store.ts";
import { revisions, servicePins } from "./schema.ts";

export type PinRow = typeof servicePins.$inferSelect;

/** Container specs of the revisions Berth rolled out (secret values replaced by their names). */
export class RevisionRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  /** Stores a revision's spec once; a revision's spec never changes, so a second save is a no-op. */
  async save(service: string, revision: string, spec: unknown): Promise<void> {
    await this.db.insert(revisions).values({ service, revision, spec: JSON.stringify(spec), createdAt: this.now() }).onConflictDoNothing();
  }

  async get(service: string, revision: string): Promise<unknown | undefined> {
    const row = await this.db.select().from(revisions).where(and(eq(revisions.service, service), eq(revisions.revision, revision))).get();
    return row ? (JSON.parse(row.spec) as unknown) : undefined;
  }
}

/** Services held on another revision than their manifest asks for. */
export class PinRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  async set(pin: { service: string; manifestRevision: string; runRevision: string | null; reason: string }): Promise<void> {
    const values = { ...pin, since: this.now() };
    await this.db.insert(servicePins).values(values).onConflictDoUpdate({ target: servicePins.service, set: values });
  }

  get(service: string): Promise<PinRow | undefined> {
    return this.db.select().from(servicePins).where(eq(servicePins.service, service)).get();
  }

  list(): Promise<PinRow[]> {
    return this.db.select().from(servicePins).all();
  }

  async clear(service: string): Promise<void> {
    await this.db.delete(servicePins).where(eq(servicePins.service, service));
  }
}

