import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createStore, type Store } from "../../../src/store/index.ts";
import { DEFAULT_RETENTION } from "../../../src/store/repositories.ts";
import { MIGRATIONS_DIR, openDatabase } from "../../../src/store/store.ts";

let dir: string;
let store: Store | undefined;
let clock = 1_700_000_000_000;
const now = () => clock;

afterEach(() => {
  store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function open(): Promise<Store> {
  dir = mkdtempSync(join(tmpdir(), "berth-store-"));
  store = createStore(await openDatabase(`file:${dir}/nested/berth.db`), now);
  return store;
}

describe("store", () => {
  it("creates an embedded file database in WAL mode with every table", async () => {
    const s = await open();
    const opened = await openDatabase(`file:${dir}/nested/berth.db`);
    const mode = await opened.client.execute("PRAGMA journal_mode");
    const tables = (await opened.client.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).rows.map((r) => r.name);
    opened.client.close();
    expect(mode.rows[0]!.journal_mode).toBe("wal");
    expect(tables).toEqual(expect.arrayContaining(["actor_snapshots", "audit_log", "deployments", "drift_checks", "events", "health_results", "resources", "targets"]));
    expect(await s.ping()).toBeGreaterThanOrEqual(0);
  });

  it("upgrades a database made by the previous migration set in place, keeping its rows", async () => {
    dir = mkdtempSync(join(tmpdir(), "berth-store-"));
    const old = join(dir, "old-migrations");
    cpSync(MIGRATIONS_DIR, old, { recursive: true });
    const journalPath = join(old, "meta/_journal.json");
    const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: unknown[] };
    expect(journal.entries.length).toBeGreaterThan(1);
    // The release before the four newest migrations (source commits, outbox claims, backups, leases).
    writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, -4) }));

    const url = `file:${dir}/berth.db`;
    const opened = await openDatabase(url, { migrationsDir: old });
    // Rows as the previous release wrote them (its code knew no commit column).
    await opened.client.execute("INSERT INTO events (type, reason, message, involved_kind, involved_name, first_time, last_time) VALUES ('Normal', 'Created', 'kept across the upgrade', 'Service', 'dev/web', 1, 1)");
    await opened.client.execute("INSERT INTO deployments (service, revision, image, manifest_revision, status, started_at) VALUES ('Service/dev/web', 'a', 'web:1', 'c0ffee', 'success', 1)");
    // The newest migration adds the sources table and the commit columns.
    await expect(opened.client.execute("SELECT commit FROM events")).rejects.toThrow();
    await expect(createStore(opened, now).sources.list()).rejects.toThrow();
    await expect(opened.client.execute("SELECT claimed_until FROM notification_outbox")).rejects.toThrow();
    await expect(opened.client.execute("SELECT id FROM backups")).rejects.toThrow();
    await expect(opened.client.execute("SELECT term FROM leases")).rejects.toThrow();
    const report = { project: "demo", a: "dev", b: "prod", services: [], summary: { identical: 0, different: 0, "missing in A": 0, "missing in B": 0, error: 0, warning: 0, info: 0 }, identical: true };
    const broken = { file: "manifests/web.yaml", state: "stale" as const, errors: [{ line: 8, col: 13, message: "Service/web: bad" }], resources: ["Service/web"] };
    opened.client.close();

    store = createStore(await openDatabase(url), now);
    expect((await store.events.list()).map((e) => [e.message, e.commit])).toEqual([["kept across the upgrade", null]]);
    // A deployment's manifest commit stays where it was, read as its commit.
    expect((await store.deployments.list({ service: "Service/dev/web" })).map((d) => d.commit)).toEqual(["c0ffee"]);
    expect(await store.sources.list()).toEqual([]);
    const backup = await store.backups.start({ service: "Service/dev/web", volume: "data", dockerVolume: "shop-dev-data", target: "local", destination: "volume:shop-dev-backups", file: "a.tar.gz", trigger: "manual" });
    await store.backups.succeeded(backup, { sizeBytes: 10, sha256: "f".repeat(64) });
    expect(await store.backups.list({ service: "Service/dev/web", status: "succeeded" })).toMatchObject([{ id: backup, sizeBytes: 10, finishedAt: clock }]);
    await store.pins.set({ service: "Service/dev/web", manifestRevision: "a", runRevision: "b", reason: "test" });
    expect(await store.pins.get("Service/dev/web")).toMatchObject({ runRevision: "b", reason: "test" });
    const id = await store.deployments.start({ service: "Service/dev/web", revision: "b", image: "web:1" });
    expect((await store.deployments.get(id))?.trigger).toBe("manifest");
    await store.parity.record(report);
    expect(await store.parity.list({ project: "demo" })).toEqual([report]);
    await store.manifests.replace([broken]);
    expect(await store.manifests.list()).toEqual([{ ...broken, updatedAt: clock }]);
    const [row] = await store.notifications.enqueue([{ dedupeKey: "k", receiver: "Project/shop/hook", event: "rollout.succeeded", payload: "{}" }], 1);
    expect((await store.notifications.claim([row!], 100, 2)).map((r) => r.claimedUntil)).toEqual([100]);
    expect(await store.leases.acquire("daemon", "A", 1_000)).toBe(1);
  });

  it("bumps a resource's generation only when its spec hash changes", async () => {
    const s = await open();
    const declare = (specHash: string, revision?: string) => s.resources.declare({ key: "Service/dev/web", kind: "Service", name: "dev/web", spec: { image: "web:1" }, specHash, revision });
    expect((await declare("h1")).generation).toBe(1);
    expect((await declare("h1", "abc")).generation).toBe(1);
    const changed = await declare("h2", "abc");
    expect(changed.generation).toBe(2);
    expect(changed.stateVersion).toBeGreaterThan(1);
  });

  it("keeps the Ready condition's transition time until its status flips, and records the converged generation", async () => {
    const s = await open();
    await s.resources.declare({ key: "Service/dev/web", kind: "Service", name: "dev/web", spec: {}, specHash: "h1" });
    await s.resources.report("Service/dev/web", { phase: "Starting", message: "0/1 running", ready: false, converged: false });
    clock += 1_000;
    await s.resources.report("Service/dev/web", { phase: "Starting", message: "still starting", ready: false, converged: false });
    let row = (await s.resources.get("Service/dev/web"))!;
    expect(JSON.parse(row.conditions)).toEqual([{ type: "Ready", status: "False", reason: "Starting", message: "still starting", lastTransitionTime: new Date(clock - 1_000).toISOString() }]);
    expect(row.observedGeneration).toBe(0);
    clock += 1_000;
    await s.resources.report("Service/dev/web", { phase: "Running", message: "1/1 running", ready: true, converged: true });
    row = (await s.resources.get("Service/dev/web"))!;
    expect(JSON.parse(row.conditions)[0]).toMatchObject({ status: "True", reason: "Running", lastTransitionTime: new Date(clock).toISOString() });
    expect(row.observedGeneration).toBe(1);
    expect(row.phase).toBe("Running");
  });

  it("lets concurrent writers of one resource all land (optimistic concurrency with retry)", async () => {
    const s = await open();
    await s.resources.declare({ key: "Service/dev/web", kind: "Service", name: "dev/web", spec: {}, specHash: "h0" });
    const versionBefore = (await s.resources.get("Service/dev/web"))!.stateVersion;
    await Promise.all(Array.from({ length: 5 }, (_, i) => s.resources.report("Service/dev/web", { phase: "Running", message: `writer ${i}`, ready: true, converged: true })));
    expect((await s.resources.get("Service/dev/web"))!.stateVersion).toBe(versionBefore + 5);
  });

  it("folds repeated events into one row with a count", async () => {
    const s = await open();
    const warn = { type: "Warning" as const, reason: "ContainerDied", message: "web-0 exited 137", kind: "Service", name: "dev/web" };
    await s.events.record(warn);
    clock += 5_000;
    await s.events.record(warn);
    await s.events.record({ ...warn, message: "web-1 exited 1" });
    const list = await s.events.list({ kind: "Service", name: "dev/web" });
    expect(list.map((e) => [e.message, e.count, e.lastTime - e.firstTime])).toEqual([
      ["web-1 exited 1", 1, 0],
      ["web-0 exited 137", 2, 5_000],
    ]);
  });

  it("records rollouts from start to outcome", async () => {
    const s = await open();
    const id = await s.deployments.start({ service: "Service/dev/web", revision: "h2", image: "web:2", previousRevision: "h1" });
    expect((await s.deployments.latest("Service/dev/web"))!.status).toBe("in_progress");
    clock += 3_000;
    await s.deployments.finish(id, { status: "success", healthCheckPassed: true });
    expect(await s.deployments.latest("Service/dev/web")).toMatchObject({ status: "success", revision: "h2", previousRevision: "h1", healthCheckPassed: true, completedAt: clock });
  });

  it("deletes time series past their retention", async () => {
    const s = await open();
    await s.health.insert([
      { instance: "web-0", service: "Service/dev/web", time: clock - DEFAULT_RETENTION.healthMs - 1, status: "healthy", checkType: "http" },
      { instance: "web-0", service: "Service/dev/web", time: clock, status: "healthy", checkType: "http" },
    ]);
    await s.audit.record([{ time: clock - DEFAULT_RETENTION.auditMs - 1, target: "local", operation: "container.create", outcome: "ok", durationMs: 3 }]);
    expect(await s.enforceRetention(DEFAULT_RETENTION)).toBe(2);
    expect((await s.health.list({ service: "Service/dev/web" })).map((h) => h.time)).toEqual([clock]);
  });

  it("keeps each service's newest rollout past retention", async () => {
    const s = await open();
    const now = clock;
    clock = now - DEFAULT_RETENTION.deploymentsMs - 10_000;
    await s.deployments.start({ service: "Service/dev/web", revision: "h1", image: "web:1" });
    await s.deployments.start({ service: "Service/dev/web", revision: "h2", image: "web:2" });
    await s.deployments.start({ service: "Service/dev/db", revision: "d1", image: "db:1" });
    clock = now;
    expect(await s.enforceRetention(DEFAULT_RETENTION)).toBe(1);
    expect((await s.deployments.list()).map((d) => d.revision).sort()).toEqual(["d1", "h2"]);
  });
});
