import { desc, eq } from "drizzle-orm";
import type { ParityReport } from "../parity/diff.ts";
import type { Database } from "./store.ts";
import { parityReports } from "./schema.ts";

/** Stored `berth diff-env` reports. */
export class ParityRepository {
  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {}

  async record(report: ParityReport): Promise<number> {
    const [row] = await this.db
      .insert(parityReports)
      .values({ time: this.now(), project: report.project, environmentA: report.a, environmentB: report.b, identical: report.identical, summary: JSON.stringify(report.summary), report: JSON.stringify(report) })
      .returning({ id: parityReports.id });
    return row!.id;
  }

  async list(filter: { project?: string; limit?: number } = {}): Promise<ParityReport[]> {
    const rows = await this.db.select().from(parityReports).where(filter.project ? eq(parityReports.project, filter.project) : undefined).orderBy(desc(parityReports.time), desc(parityReports.id)).limit(filter.limit ?? 20).all();
    return rows.map((r) => JSON.parse(r.report) as ParityReport);
  }
}
