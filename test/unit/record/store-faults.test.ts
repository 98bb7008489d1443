import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ReconcileOutcome } from "../../../src/engine/observer.ts";
import { createLogger, Redactor } from "../../../src/log/logger.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { Recorder } from "../../../src/record/recorder.ts";
import { createStore, type Store } from "../../../src/store/index.ts";
import { openDatabase, type OpenedDatabase } from "../../../src/store/store.ts";

let dir: string;
let store: Store | undefined;

afterEach(() => {
  store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function setup() {
  dir = mkdtempSync(join(tmpdir(), "berth-recorder-faults-"));
  const file = join(dir, "berth.db");
  const opened: OpenedDatabase = await openDatabase(`file:${file}`);
  store = createStore(opened);
  const lines: string[] = [];
  const metrics = new Metrics({ processMetrics: false });
  const recorder = new Recorder({ store, metrics, redactor: new Redactor(), log: createLogger({ write: (line) => lines.push(line) }) });
  return { store, opened, file, lines, metrics, recorder };
}

/** A pass that fails with a new error each time, so each one makes an event row (and a resources row). */
function pass(n: number): ReconcileOutcome {
  return { key: "Service/dev/web", kind: "Service", name: "dev/web", phase: "Degraded", previousPhase: "Degraded", message: `pull failed ${n}`, ready: false, converged: false, error: `image web:${n} not found ${"z".repeat(3000)}`, terminal: false, newError: true, changes: [], drift: false };
}

async function errors(metrics: Metrics): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetric("berth_store_errors_total")!.get();
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.table}/${v.labels.reason}`, v.value]));
}

describe("Recorder on a failing store", () => {
  it("counts every write a full disk refuses, logs one short line for all of them, fails the store check, and recovers", async () => {
    const { store, opened, file, lines, metrics, recorder } = await setup();
    recorder.reconciled(pass(0));
    await recorder.flush();
    await expect(store.check()).resolves.toMatch(/ms round trip$/);

    const pages = Number((await opened.client.execute("PRAGMA page_count")).rows[0]![0]);
    await opened.client.execute(`PRAGMA max_page_count = ${pages}`);
    for (let n = 1; n <= 20; n++) recorder.reconciled(pass(n));
    // Reconciling goes on: nothing was thrown, and flush resolves.
    await recorder.flush();

    const counted = await errors(metrics);
    expect(counted["events/disk_full"]).toBeGreaterThan(0);
    const failed = Object.values(counted).reduce((a, b) => a + b, 0);
    expect(failed).toBe(store.writes.current()!.count);

    const errorLines = lines.filter((l) => l.includes(" error "));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(new RegExp(`store write failed: database disk is full at ${file}; free space or move --db table=\\w+ reason=disk_full$`));
    expect(errorLines[0]!.length).toBeLessThan(300);
    expect(lines.join("\n")).not.toMatch(/insert into|Failed query|zzzz/i);

    await expect(store.check()).rejects.toThrow(`database disk is full at ${file}; free space or move --db (${failed} writes failed since `);

    await opened.client.execute("PRAGMA max_page_count = 1000000");
    recorder.reconciled(pass(21));
    await recorder.flush();
    await expect(store.check()).resolves.toMatch(/ms round trip$/);
    expect(lines.filter((l) => l.includes("store writes recovered"))).toEqual([expect.stringMatching(new RegExp(`info  store writes recovered failed=${failed} reason=disk_full`))]);
  });

  it("counts writes that land in a deleted database file as lost, and says so once", async () => {
    const { store, file, lines, metrics, recorder } = await setup();
    recorder.reconciled(pass(0));
    await recorder.flush();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });

    for (let n = 1; n <= 5; n++) recorder.reconciled(pass(n));
    await recorder.flush();

    const counted = await errors(metrics);
    expect(counted["events/missing"]).toBe(5);
    expect(counted["resources/missing"]).toBe(5);
    const errorLines = lines.filter((l) => l.includes(" error "));
    expect(errorLines).toEqual([expect.stringContaining(`store write failed: database file ${file} was deleted while berth had it open`)]);
    await expect(store.check()).rejects.toThrow(`database file ${file} was deleted while berth had it open`);
  });
});
