import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Redactor, silentLogger } from "../../../src/log/logger.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { Recorder } from "../../../src/record/recorder.ts";
import { openStore, type Store } from "../../../src/store/index.ts";

let dir: string;
let store: Store;

afterEach(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function recorder() {
  dir = mkdtempSync(join(tmpdir(), "berth-recorder-"));
  store = await openStore(`file:${dir}/berth.db`);
  const redactor = new Redactor();
  redactor.setSecrets(["s3cret-value"]);
  return new Recorder({ store, metrics: new Metrics({ processMetrics: false }), redactor, log: silentLogger });
}

const labels = { "dev.berth.environment": "dev", "dev.berth.service": "web", name: "shop-dev-web-0-abc", exitCode: "137" };

describe("Recorder", () => {
  it("reports a container that died on its own as a Warning, but not one Berth stopped itself", async () => {
    const r = await recorder();
    r.engineEvent("local", { type: "container", action: "die", id: "aaa", labels, time: 1 });
    r.beforeDockerCall({ operation: "container.stop", object: "bbb" });
    r.engineEvent("local", { type: "container", action: "die", id: "bbb", labels: { ...labels, name: "shop-dev-web-1-abc" }, time: 2 });
    await r.flush();
    const events = await store.events.list();
    expect(events.map((e) => `${e.type} ${e.reason} ${e.message}`)).toEqual(["Warning ContainerDied container shop-dev-web-0-abc on local exited with code 137"]);
  });

  it("writes an audit row per mutating call, with secrets masked, and none for reads", async () => {
    const r = await recorder();
    r.onDockerCall({ target: "local", operation: "container.list", mutating: false, durationMs: 1, outcome: "ok" });
    r.onDockerCall({ target: "local", operation: "container.create", mutating: true, object: "web-0", reason: "Service/dev/web: create (missing replica)", durationMs: 12, outcome: "error", error: "env s3cret-value rejected" });
    await r.flush();
    const rows = await store.audit.list();
    expect(rows).toEqual([expect.objectContaining({ operation: "container.create", object: "web-0", outcome: "error", error: "env *** rejected" })]);
  });
});
