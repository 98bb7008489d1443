import { afterEach, describe, expect, it } from "vitest";
import type { RolloutReport } from "../../../src/engine/observer.ts";
import { Redactor, silentLogger } from "../../../src/log/logger.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { Recorder } from "../../../src/record/recorder.ts";
import { openStore, type Store } from "../../../src/store/index.ts";

// ---------------------------------------------------------------------------
// Helpers: a Recorder over an in-memory store, and rollouts as the service
// controller reports them at each state of their record.
// ---------------------------------------------------------------------------

const SECRET = "s3cret-value";
const NEW = "1".repeat(12) + "a".repeat(52);
const OLD = "2".repeat(12) + "b".repeat(52);

let store: Store | undefined;
let metrics: Metrics;

afterEach(() => {
  store?.close();
  store = undefined;
});

async function recorder(): Promise<Recorder> {
  store = await openStore("file::memory:");
  const redactor = new Redactor();
  redactor.setSecrets([SECRET]);
  metrics = new Metrics({ processMetrics: false });
  return new Recorder({ store, metrics, redactor, log: silentLogger });
}

/** What each final state of a rollout record ended as; other states have no outcome yet. */
const OUTCOME: Record<string, RolloutReport["outcome"]> = { complete: "success", rolledBack: "rolled_back", stalled: "failed", rollbackFailed: "failed", superseded: "failed" };

const PHASE: Record<string, string> = { building: "Building", rollingBack: "RollingBack", complete: "Complete", rolledBack: "RolledBack", stalled: "Failed", rollbackFailed: "Failed", superseded: "Failed" };

/** A rollout report for `state`, its outcome set as the controller sets it for final states. */
function rollout(state: string, overrides: Partial<RolloutReport> = {}): RolloutReport {
  return {
    key: "Service/dev/web",
    revision: NEW,
    previous: OLD,
    trigger: "manifest",
    state,
    phase: PHASE[state] ?? "Deploying",
    outcome: OUTCOME[state],
    hasHealthCheck: true,
    ...overrides,
  };
}

/** Every event recorded so far, oldest first, as `type reason message`. */
async function events(r: Recorder): Promise<string[]> {
  await r.flush();
  const rows = await store!.events.list();
  expect(rows.every((e) => e.involvedKind === "Service" && e.involvedName === "dev/web")).toBe(true);
  return rows.reverse().map((e) => `${e.type} ${e.reason} ${e.message}`);
}

/** The value of one labelled series of a counter, 0 when it has none yet. */
async function counter(name: string, result: string): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString(name);
  const line = text.split("\n").find((l) => l.startsWith(`${name}{result="${result}"} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

describe("Recorder.rolloutChanged", () => {
  it("building: a Normal RolloutStarted naming the new and the replaced revision, and what triggered it", async () => {
    const r = await recorder();
    r.rolloutChanged(rollout("building"));
    expect(await events(r)).toEqual([`Normal RolloutStarted revision ${NEW.slice(0, 12)} replaces ${OLD.slice(0, 12)} (manifest)`]);
    expect(await counter("berth_deployments_total", "success")).toBe(0);
  });

  it("building a first revision: nothing replaced", async () => {
    const r = await recorder();
    r.rolloutChanged(rollout("building", { previous: undefined, trigger: "retry", hasHealthCheck: false }));
    expect(await events(r)).toEqual([`Normal RolloutStarted revision ${NEW.slice(0, 12)} (retry)`]);
  });

  it("rolling back: a Warning RolloutFailed with the failure, and no deployment counted yet", async () => {
    const r = await recorder();
    r.rolloutChanged(rollout("rollingBack", { failure: "slot(s) 0 not ready within 120 s" }));
    expect(await events(r)).toEqual([`Warning RolloutFailed revision ${NEW.slice(0, 12)}: slot(s) 0 not ready within 120 s; rolling back to ${OLD.slice(0, 12)}`]);
    expect(await counter("berth_deployments_total", "failed")).toBe(0);
    expect(await counter("berth_rollbacks_total", "success")).toBe(0);
  });

  it("complete: a Normal DeploymentSucceeded and one successful deployment", async () => {
    const r = await recorder();
    r.rolloutChanged(rollout("complete"));
    expect(await events(r)).toEqual([`Normal DeploymentSucceeded revision ${NEW.slice(0, 12)} is running and healthy`]);
    expect(await counter("berth_deployments_total", "success")).toBe(1);
    expect(await counter("berth_rollbacks_total", "success")).toBe(0);

    r.rolloutChanged(rollout("complete", { revision: OLD, hasHealthCheck: false }));
    expect((await events(r)).at(-1)).toBe(`Normal DeploymentSucceeded revision ${OLD.slice(0, 12)} is running`);
    expect(await counter("berth_deployments_total", "success")).toBe(2);
  });

  it("rolledBack: a Warning RolledBack naming the failure and the restored revision, and one successful rollback", async () => {
    const r = await recorder();
    r.rolloutChanged(rollout("rolledBack", { failure: "exit 1: connection refused" }));
    const [message] = await events(r);
    expect(message).toMatch(/^Warning RolledBack /);
    expect(message).toContain(`revision ${NEW.slice(0, 12)} failed (exit 1: connection refused)`);
    expect(message).toContain(`revision ${OLD.slice(0, 12)} restored and healthy`);
    expect(await counter("berth_rollbacks_total", "success")).toBe(1);
    expect(await counter("berth_rollbacks_total", "failed")).toBe(0);
    expect(await counter("berth_deployments_total", "rolled_back")).toBe(1);
    expect(await counter("berth_deployments_total", "success")).toBe(0);
  });

  it("rollbackFailed: a Warning DeploymentFailed with the failure and the rollback error, and one failed rollback", async () => {
    const r = await recorder();
    r.rolloutChanged(rollout("rollbackFailed", { failure: "exit 1: connection refused", rollbackError: "previous revision not ready within 120 s" }));
    expect(await events(r)).toEqual([`Warning DeploymentFailed revision ${NEW.slice(0, 12)}: exit 1: connection refused; rollback failed: previous revision not ready within 120 s`]);
    expect(await counter("berth_rollbacks_total", "failed")).toBe(1);
    expect(await counter("berth_rollbacks_total", "success")).toBe(0);
    expect(await counter("berth_deployments_total", "failed")).toBe(1);
  });

  it("stalled: a Warning DeploymentFailed and a failed deployment, but no rollback counted", async () => {
    const r = await recorder();
    r.rolloutChanged(rollout("stalled", { failure: "image pull failed" }));
    expect(await events(r)).toEqual([`Warning DeploymentFailed revision ${NEW.slice(0, 12)}: image pull failed`]);
    expect(await counter("berth_deployments_total", "failed")).toBe(1);
    expect(await counter("berth_rollbacks_total", "failed")).toBe(0);
  });

  it("superseded: a Warning DeploymentFailed naming the newer revision and a failed deployment, but no rollback counted", async () => {
    const r = await recorder();
    r.rolloutChanged(rollout("superseded", { failure: `superseded by revision ${OLD.slice(0, 12)}` }));
    expect(await events(r)).toEqual([`Warning DeploymentFailed revision ${NEW.slice(0, 12)}: superseded by revision ${OLD.slice(0, 12)}`]);
    expect(await counter("berth_deployments_total", "failed")).toBe(1);
    expect(await counter("berth_rollbacks_total", "failed")).toBe(0);
    expect(await counter("berth_rollbacks_total", "success")).toBe(0);
  });

  it("records nothing for intermediate states", async () => {
    const r = await recorder();
    for (const state of ["initiated", "deploying", "healthCheck", "completing", "failed", "verifyingRollback"]) r.rolloutChanged(rollout(state));
    expect(await events(r)).toEqual([]);
    for (const result of ["success", "failed", "rolled_back"]) expect(await counter("berth_deployments_total", result)).toBe(0);
    for (const result of ["success", "failed"]) expect(await counter("berth_rollbacks_total", result)).toBe(0);
  });

  it("never writes a registered secret into an event message", async () => {
    const r = await recorder();
    const failure = `exit 1: DB_PASSWORD=${SECRET} rejected`;
    r.rolloutChanged(rollout("rollingBack", { failure }));
    r.rolloutChanged(rollout("rolledBack", { failure }));
    r.rolloutChanged(rollout("rollbackFailed", { failure, rollbackError: `restore saw ${SECRET} too` }));
    const messages = await events(r);
    expect(messages).toHaveLength(3);
    for (const message of messages) expect(message).not.toContain(SECRET);
    expect(messages[0]).toContain("DB_PASSWORD=*** rejected");
    expect(messages[2]).toContain("rollback failed: restore saw *** too");
  });
});
