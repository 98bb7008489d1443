import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ReconcileOutcome } from "../../../src/engine/observer.ts";
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

let metrics: Metrics;

async function recorder() {
  dir = mkdtempSync(join(tmpdir(), "berth-recorder-"));
  store = await openStore(`file:${dir}/berth.db`);
  const redactor = new Redactor();
  redactor.setSecrets(["s3cret-value"]);
  metrics = new Metrics({ processMetrics: false });
  return new Recorder({ store, metrics, redactor, log: silentLogger });
}

/** A failing pass over Service/dev/web that stays in its phase, so only its error can make an event. */
function failedPass(overrides: Partial<ReconcileOutcome> = {}): ReconcileOutcome {
  return { key: "Service/dev/web", kind: "Service", name: "dev/web", phase: "Degraded", previousPhase: "Degraded", message: "pull failed", ready: false, converged: false, error: "image web:2 not found", terminal: false, newError: true, changes: [], drift: false, ...overrides };
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

  it("drops every series of a resource that leaves the manifests", async () => {
    const r = await recorder();
    r.targetChanged("local", "Connecting", undefined, undefined);
    r.targetChanged("local", "Active", { version: "20.10", apiVersion: "1.41", latencyMs: 3 }, undefined);
    expect(await metrics.render()).toContain('berth_target_up{target="local"} 1');
    const empty = { targets: new Map(), projects: new Map(), environments: new Map(), services: new Map(), complete: true };
    r.desiredChanged({ dir, resources: [], errors: [], files: [], contentHash: "", complete: true, loadedAt: new Date() }, empty);
    await r.flush();
    const text = await metrics.render();
    expect(text).not.toContain('target="local"');
    expect(text).not.toContain('name="local"');
  });

  it("writes an error event only when the pass reports the error as new, not for each retry of the same cause", async () => {
    const r = await recorder();
    r.reconciled(failedPass({ newError: true }));
    r.reconciled(failedPass({ newError: false }));
    r.reconciled(failedPass({ newError: false }));
    r.reconciled(failedPass({ newError: true, error: "image web:2 pull denied (token s3cret-value)" }));
    r.reconciled(failedPass({ newError: false, terminal: true, error: "spec is invalid" }));
    r.reconciled(failedPass({ newError: true, terminal: true, error: "spec is invalid" }));
    await r.flush();
    const events = await store.events.list();
    // count: a repeated event would be folded into one row, counted again.
    expect(events.reverse().map((e) => `${e.type} ${e.reason} ${e.message} x${e.count}`)).toEqual([
      "Warning ReconcileFailed image web:2 not found x1",
      "Warning ReconcileFailed image web:2 pull denied (token ***) x1",
      "Warning InvalidSpec spec is invalid x1",
    ]);
    expect(events.every((e) => e.involvedKind === "Service" && e.involvedName === "dev/web")).toBe(true);
  });

  it("writes no error event for a pass without an error, even one marked new", async () => {
    const r = await recorder();
    r.reconciled(failedPass({ error: undefined, newError: true, phase: "Running", previousPhase: "Running", ready: true, converged: true }));
    await r.flush();
    expect(await store.events.list()).toEqual([]);
  });
});
