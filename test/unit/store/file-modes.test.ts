import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../../src/store/store.ts";

// The store holds events, audit rows and deployment records: only the daemon's user may read it.

let dir: string;
let umask: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "berth-modes-"));
  // The permissive umask many hosts run with: files 0666, directories 0777 unless Berth says otherwise.
  umask = process.umask(0o000);
});
afterEach(() => {
  process.umask(umask);
  rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

describe("the store's file modes", () => {
  it("creates the database file 0600 (and its WAL files) in a directory it creates 0700", async () => {
    const file = join(dir, "state", "nested", "berth.db");
    const opened = await openDatabase(`file:${file}`);
    await opened.client.execute("CREATE TABLE IF NOT EXISTS probe (x)");
    expect(mode(join(dir, "state"))).toBe(0o700);
    expect(mode(join(dir, "state", "nested"))).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    for (const extra of [`${file}-wal`, `${file}-shm`]) if (existsSync(extra)) expect(mode(extra), extra).toBe(0o600);
    opened.client.close();
  });

  it("tightens a database file others could read to 0600, and leaves an existing directory's mode alone", async () => {
    const shared = join(dir, "shared");
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755);
    const file = join(shared, "berth.db");
    (await openDatabase(`file:${file}`)).client.close();
    chmodSync(file, 0o644);
    const opened = await openDatabase(`file:${file}`);
    expect(mode(file)).toBe(0o600);
    expect(mode(shared)).toBe(0o755);
    opened.client.close();
  });
});
