import { resolve } from "node:path";

/** Where the embedded database lives unless --db says otherwise. */
export const DEFAULT_DB_URL = "file:.berth/berth.db";

/** How long time series are kept. */
export interface Retention {
  healthMs: number;
  eventsMs: number;
  auditMs: number;
  driftMs: number;
  deploymentsMs: number;
}

export const DEFAULT_RETENTION: Retention = {
  healthMs: 3 * 86_400_000,
  eventsMs: 14 * 86_400_000,
  auditMs: 14 * 86_400_000,
  driftMs: 30 * 86_400_000,
  deploymentsMs: 90 * 86_400_000,
};

/** The file a `file:` URL names (without any `?` options), or undefined for memory and servers. */
export function databaseFile(url: string): string | undefined {
  if (!url.startsWith("file:") || url.startsWith("file::memory:")) return undefined;
  const path = url.slice("file:".length).split("?")[0]!;
  return path ? resolve(path) : undefined;
}
