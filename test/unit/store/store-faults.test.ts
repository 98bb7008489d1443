import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client } from "@libsql/client";
import { afterEach, describe, expect, it } from "vitest";
import { createStore, type Store } from "../../../src/store/index.ts";
import { classifyStoreError, STALE_FAILURE_MS } from "../../../src/store/faults.ts";
import { openDatabase, type OpenedDatabase } from "../../../src/store/store.ts";

let dir: string;
let store: Store | undefined;
const others: Client[] = [];

afterEach(() => {
  store?.close();
  store = undefined;
  for (const c of others.splice(0)) c.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(): Promise<{ store: Store; opened: OpenedDatabase; file: string }> {
  dir = mkdtempSync(join(tmpdir(), "berth-faults-"));
  const file = join(dir, "berth.db");
  const opened = await openDatabase(`file:${file}`);
  store = createStore(opened);
  return { store, opened, file };
}

/** A second connection to the same file, as another process would have. */
function other(file: string): Client {
  const client = createClient({ url: `file:${file}` });
  others.push(client);
  return client;
}

const event = (n: number, message = "x") => ({ type: "Normal" as const, reason: "Test", message: `${message}${n}`, kind: "Service", name: `dev/web-${n}` });

/** The error a write fails with: a real libSQL error, wrapped by drizzle with the query text. */
async function failure(write: () => Promise<unknown>): Promise<unknown> {
  try {
    await write();
  } catch (error) {
    return error;
  }
  throw new Error("the write was expected to fail");
}

describe("store faults", () => {
  it("names a full disk (SQLITE_FULL) in one short line, with the path and no SQL", async () => {
    const { store, opened, file } = await open();
    const pages = Number((await opened.client.execute("PRAGMA page_count")).rows[0]![0]);
    await opened.client.execute(`PRAGMA max_page_count = ${pages}`);
    const error = await failure(async () => {
      for (let i = 0; i < 100; i++) await store.events.record(event(i, "y".repeat(4000)));
    });
    expect(String((error as Error).message)).toContain("insert into"); // drizzle's wrapper: the 4 KB SQL line
    const fault = classifyStoreError(error, store.location);
    expect(fault).toEqual({ reason: "disk_full", message: `database disk is full at ${file}; free space or move --db` });
  });

  it("names a lock held by another writer (SQLITE_BUSY)", async () => {
    const { store, opened, file } = await open();
    const tx = await other(file).transaction("write");
    await tx.execute("INSERT INTO audit_log (time, target, operation, outcome, duration_ms) VALUES (1, 'local', 'x', 'ok', 1)");
    await opened.client.execute("PRAGMA busy_timeout = 0");
    const fault = classifyStoreError(await failure(() => store.events.record(event(1))), store.location);
    await tx.rollback();
    expect(fault.reason).toBe("locked");
    expect(fault.message).toBe(`database at ${file} is locked by another connection; stop the other writer (another berth run on the same --db?) or move --db`);
  });

  it("names a read-only database (SQLITE_READONLY)", async () => {
    const { store, opened, file } = await open();
    await opened.client.execute("PRAGMA query_only = 1");
    const fault = classifyStoreError(await failure(() => store.events.record(event(1))), store.location);
    expect(fault).toEqual({ reason: "readonly", message: `database at ${file} is read-only; make the file and its directory writable by berth's user, or move --db` });
  });

  it("names a missing table, with the table but not the query", async () => {
    const { store, file } = await open();
    await other(file).execute("DROP TABLE events");
    const fault = classifyStoreError(await failure(() => store.events.record(event(1))), store.location);
    expect(fault).toEqual({ reason: "missing", message: `table events is missing from the database at ${file}; the file was replaced or is not Berth's store: restart berth to migrate it, or move --db` });
  });

  it("cuts an unknown error to its first short line, without the query text", () => {
    const wrapped = Object.assign(new Error(`Failed query: insert into "events" ${"(?, ?) ".repeat(600)}\nparams: a,b`), { cause: new Error(`constraint went wrong\n${"detail ".repeat(100)}`) });
    const fault = classifyStoreError(wrapped, "/var/lib/berth.db");
    expect(fault.reason).toBe("other");
    expect(fault.message).toBe("store error at /var/lib/berth.db: constraint went wrong");
    expect(classifyStoreError(new Error(`Failed query: ${"x".repeat(5000)}`), "/db").message.length).toBeLessThan(300);
  });

  it("fails its check, saying so, when the database file is deleted while open, though SELECT 1 still works", async () => {
    const { store, file } = await open();
    await store.events.record(event(1));
    await expect(store.check()).resolves.toMatch(/ms round trip$/);
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
    // The open handle keeps working on the unlinked file: that is why a ping cannot see it.
    await store.events.record(event(2));
    expect(await store.ping()).toBeGreaterThanOrEqual(0);
    expect(store.fileProblem()).toEqual({ reason: "missing", message: `database file ${file} was deleted while berth had it open; what berth records now is lost: restart berth to create it again, or restore the file` });
    await expect(store.check()).rejects.toThrow(`database file ${file} was deleted while berth had it open`);
  });

  it("fails its check when the database file is replaced by another one", async () => {
    const { store, file } = await open();
    const elsewhere = join(dir, "other.db");
    const replacement = await openDatabase(`file:${elsewhere}`);
    replacement.client.close();
    renameSync(elsewhere, file);
    expect(store.fileProblem()?.message).toBe(`database file ${file} was replaced while berth had it open; berth still writes to the file it opened: restart berth to use the new one`);
    await expect(store.check()).rejects.toThrow("was replaced");
  });

  it("fails its check while the last write failed and none has succeeded since", async () => {
    const { store, file } = await open();
    store.writes.failed("events", { reason: "disk_full", message: `database disk is full at ${file}; free space or move --db` }, Date.parse("2024-05-01T10:00:00Z"));
    store.writes.failed("audit_log", { reason: "disk_full", message: `database disk is full at ${file}; free space or move --db` }, Date.parse("2024-05-01T10:00:05Z"));
    await expect(store.check()).rejects.toThrow(`database disk is full at ${file}; free space or move --db (2 writes failed since 2024-05-01T10:00:00.000Z, the last to audit_log)`);
    // A full disk may still take updates in place: a landed write to another table does not clear the failure.
    expect(store.writes.succeeded("resources", Date.parse("2024-05-01T10:00:06Z"))).toBeUndefined();
    await expect(store.check()).rejects.toThrow("(2 writes failed since 2024-05-01T10:00:00.000Z, the last to audit_log)");
    expect(store.writes.succeeded("audit_log", Date.parse("2024-05-01T10:00:07Z"))).toBeUndefined();
    await expect(store.check()).rejects.toThrow("(2 writes failed since 2024-05-01T10:00:00.000Z, the last to events)");
    expect(store.writes.succeeded("events", Date.parse("2024-05-01T10:00:08Z"))).toMatchObject({ count: 2, table: "audit_log", fault: { reason: "disk_full" } });
    await expect(store.check()).resolves.toMatch(/ms round trip$/);
  });

  it("lets a rarely written table's old failure go once other writes have landed for ten minutes", async () => {
    const { store } = await open();
    const t0 = Date.parse("2024-05-01T10:00:00Z");
    store.writes.failed("drift_checks", { reason: "locked", message: "database is locked" }, t0);
    expect(store.writes.succeeded("events", t0 + 60_000)).toBeUndefined();
    expect(store.writes.current()).toMatchObject({ table: "drift_checks", count: 1 });
    expect(store.writes.succeeded("events", t0 + STALE_FAILURE_MS)).toMatchObject({ table: "drift_checks", count: 1 });
    expect(store.writes.current()).toBeUndefined();
  });

  it("keeps a memory store's check to a round trip", async () => {
    dir = mkdtempSync(join(tmpdir(), "berth-faults-"));
    store = createStore(await openDatabase("file::memory:"));
    expect(store.location).toBe("file::memory:");
    expect(store.fileProblem()).toBeUndefined();
    await expect(store.check()).resolves.toMatch(/ms round trip$/);
  });
});
