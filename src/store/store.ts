import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { packageRoot } from "../package-root.ts";
import { createClient, type Client } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import * as schema from "./schema.ts";

export type Database = LibSQLDatabase<typeof schema>;

import { databaseFile, DEFAULT_DB_URL } from "./defaults.ts";
export { databaseFile, DEFAULT_DB_URL };

/** The SQL migrations ship as files beside the sources (`src/store/migrations`), also in the compiled package. */
export const MIGRATIONS_DIR = join(packageRoot(), "src", "store", "migrations");

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
  }
}

export interface OpenedDatabase {
  client: Client;
  db: Database;
  url: string;
  /** The database file of a `file:` URL, absolute; none for memory or a server. */
  file?: string;
  /** Device and inode of that file as opened, to notice it deleted or replaced behind berth's back. */
  identity?: FileIdentity;
}

export interface FileIdentity {
  dev: number;
  ino: number;
}


/** What store faults call the database: its file, absolute, or its URL without the query (which may hold a token). */
export function databaseLocation(url: string): string {
  return databaseFile(url) ?? url.split("?")[0]!;
}

/**
 * Opens a libSQL database (an embedded file by default, or any libSQL server
 * URL) and applies every pending migration, so an older database upgrades in place.
 */
export async function openDatabase(url: string = DEFAULT_DB_URL, options: { migrationsDir?: string; authToken?: string; mustExist?: boolean } = {}): Promise<OpenedDatabase> {
  const file = url.startsWith("file:") && !url.startsWith("file::memory:") ? url.slice("file:".length) : undefined;
  if (file && options.mustExist && !existsSync(file)) {
    throw new StoreError(`no store at ${url}: nothing has been recorded there yet; expected the --db that berth apply or berth run used, e.g. --db ${DEFAULT_DB_URL}`);
  }
  if (file) createPrivately(file);
  // One connection for a file: the embedded driver is synchronous, so more connections add no parallelism in
  // one process, and each new one would start without the pragmas below (a sync per commit, no busy timeout).
  const client = createClient({ url, authToken: options.authToken, ...(file ? { concurrency: 1 } : {}) });
  try {
    if (url.startsWith("file:")) {
      // WAL lets CLI readers run while the daemon writes.
      await client.execute("PRAGMA journal_mode = WAL");
      await client.execute("PRAGMA busy_timeout = 5000");
      // With WAL, NORMAL syncs at checkpoints rather than at every commit: a power cut may lose the last
      // commits but never corrupts the file; a rollout resumes from the record before them and re-plans from Docker.
      await client.execute("PRAGMA synchronous = NORMAL");
    }
    const db = drizzle(client, { schema });
    await migrate(db, { migrationsFolder: options.migrationsDir ?? MIGRATIONS_DIR });
    if (file) keepPrivate(file);
    const path = databaseFile(url);
    return { client, db, url, file: path, identity: path ? fileIdentity(path) : undefined };
  } catch (error) {
    client.close();
    throw new StoreError(`cannot open the store at ${url}; expected a writable file: path or a reachable libSQL URL, e.g. --db file:.berth/berth.db`, { cause: error });
  }
}

/** The device and inode of `path`, or undefined when it does not exist. */
export function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const { dev, ino } = statSync(path);
    return { dev, ino };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * The store holds events, audit rows and deployment records: the directories
 * Berth creates for it are 0700 and the database file is created 0600 (SQLite
 * gives its -wal and -shm files the database file's mode).
 */
function createPrivately(file: string): void {
  if (existsSync(file)) return;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(file, "wx", 0o600));
  } catch (error) {
    // Already there: opened as it is, and tightened once open.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new StoreError(`cannot create the store at ${file}; expected a writable path, e.g. --db ${DEFAULT_DB_URL}`, { cause: error });
  }
}

/** Takes group and other permissions off the database and its WAL files; a reader that does not own them leaves them be. */
function keepPrivate(file: string): void {
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if (statSync(path).mode & 0o077) chmodSync(path, 0o600);
    } catch {
      // Absent (no WAL yet), or owned by another user (a CLI reading the daemon's store): not ours to change.
    }
  }
}
