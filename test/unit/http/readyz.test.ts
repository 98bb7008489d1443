import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RolloutApi } from "../../../controllers/service/requests.ts";
import type { Manager } from "../../../src/engine/manager.ts";
import { startHttpServer } from "../../../src/http/server.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { manifestHealth } from "../../../src/manifests/health.ts";
import { ManifestLoader, type DesiredState } from "../../../src/manifests/load.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { Redactor } from "../../../src/log/logger.ts";
import { Recorder } from "../../../src/record/recorder.ts";
import { createStore, openStore, type Store } from "../../../src/store/index.ts";
import { openDatabase } from "../../../src/store/store.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

let manifests: ManifestDir | undefined;
let store: Store | undefined;
let http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
let dir: string | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
  store?.close();
  store = undefined;
  manifests?.cleanup();
  manifests = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Only what /readyz reads of the manager: no targets, the desired services. */
const manager = { desired: { services: new Map([["Service/dev/web", {}]]) }, targetStatus: () => [], refreshMetrics: () => {} } as unknown as Manager;

/** /readyz never asks about rollouts: any call is a mistake. */
const unused = () => Promise.reject(new Error("/readyz must not call the rollout API"));
const rollouts: RolloutApi = { status: unused, rollback: unused, retry: unused };

interface Readiness {
  status: string;
  checks: { name: string; ok: boolean; detail: string }[];
}

describe("/readyz", () => {
  it("fails its manifests check while a file is broken, naming it at file:line:col, and passes once it is fixed", async () => {
    manifests = createManifestDir(baseProject());
    const loader = new ManifestLoader(manifests.dir);
    // As `berth run` wires it: the watcher's latest desired state.
    let current: DesiredState = await loader.load();
    store = await openStore("file::memory:");
    http = await startHttpServer({ listen: "127.0.0.1:0", metrics: new Metrics({ processMetrics: false }), store, log: silentLogger, daemon: () => ({ manager, rollouts, manifests: () => manifestHealth(current) }) });
    const readyz = async () => {
      const response = await fetch(`http://${http!.address}/readyz`);
      return { status: response.status, body: (await response.json()) as Readiness };
    };

    const ready = await readyz();
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("ready");
    expect(ready.body.checks.find((c) => c.name === "manifests")).toMatchObject({ ok: true, detail: "1 services" });

    manifests.write("web.yaml", doc("Service", "web", "project: shop\nimage: web:1\nreplicas: lots"));
    current = await loader.load();
    const broken = await readyz();
    expect(broken.status).toBe(503);
    expect(broken.body.status).toBe("not ready");
    const check = broken.body.checks.find((c) => c.name === "manifests")!;
    expect(check.ok).toBe(false);
    const web = `${manifests.dir}/web.yaml`;
    expect(check.detail).toBe(`1 manifest file(s) broken (${web}); the last good state stays in force: ${web}:8:13: Service/web: "replicas" is lots; expected a whole number, e.g. 2`);
    expect(broken.body.checks.find((c) => c.name === "store")?.ok).toBe(true);

    manifests.write("web.yaml", doc("Service", "web", "project: shop\nimage: web:2"));
    current = await loader.load();
    const fixed = await readyz();
    expect(fixed.status).toBe(200);
    expect(fixed.body.checks.every((c) => c.ok)).toBe(true);
  });

  it("fails its store check when writes fail (a full disk) or the database file is deleted, though SELECT 1 still answers", async () => {
    manifests = createManifestDir(baseProject());
    const current = await new ManifestLoader(manifests.dir).load();
    dir = mkdtempSync(join(tmpdir(), "berth-readyz-"));
    const file = join(dir, "berth.db");
    const opened = await openDatabase(`file:${file}`);
    store = createStore(opened);
    const metrics = new Metrics({ processMetrics: false });
    const recorder = new Recorder({ store, metrics, redactor: new Redactor(), log: silentLogger });
    http = await startHttpServer({ listen: "127.0.0.1:0", metrics, store, log: silentLogger, daemon: () => ({ manager, rollouts, manifests: () => manifestHealth(current) }) });
    const storeCheck = async () => {
      const response = await fetch(`http://${http!.address}/readyz`);
      return { status: response.status, check: ((await response.json()) as Readiness).checks.find((c) => c.name === "store")! };
    };
    const event = (n: number) => recorder.changed("Service", "dev/web", [{ path: `replica ${n}`, observed: "x".repeat(4000), desired: `${n}` }]);

    event(0);
    await recorder.flush();
    expect(await storeCheck()).toMatchObject({ status: 200, check: { ok: true } });

    const pages = Number((await opened.client.execute("PRAGMA page_count")).rows[0]![0]);
    await opened.client.execute(`PRAGMA max_page_count = ${pages}`);
    for (let n = 1; n <= 5; n++) event(n);
    await recorder.flush();
    const full = await storeCheck();
    expect(full.status).toBe(503);
    expect(full.check.ok).toBe(false);
    expect(full.check.detail).toMatch(new RegExp(`^database disk is full at ${file}; free space or move --db \\(\\d+ writes failed since \\S+, the last to \\w+\\)$`));

    await opened.client.execute("PRAGMA max_page_count = 1000000");
    event(6);
    await recorder.flush();
    expect(await storeCheck()).toMatchObject({ status: 200, check: { ok: true } });

    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
    const deleted = await storeCheck();
    expect(deleted.status).toBe(503);
    expect(deleted.check).toMatchObject({ ok: false, detail: `database file ${file} was deleted while berth had it open; what berth records now is lost: restart berth to create it again, or restore the file` });
  });
});
