import { describe, expect, it } from "vitest";
import { createActor, fromPromise, SimulatedClock, waitFor, type Snapshot } from "xstate";
import { rolloutMachine, rolloutOutcome, type RolloutContext, type RolloutInput, type StepResult } from "./rollout-machine.ts";

const KEY = "Service/production/web";
const REVISION = "a".repeat(64);
const PREVIOUS = "b".repeat(64);
const TIMEOUT_MS = 30_000;

const INPUT: RolloutInput = { key: KEY, revision: REVISION, manifestRevision: REVISION, previous: PREVIOUS, autoRollback: true, healthTimeoutMs: TIMEOUT_MS, trigger: "manifest" };

type RevisionInput = { key: string; revision: string };

/** One invocation of a fake actor, settled by the test. */
interface Call<T, I> {
  input: I;
  signal: AbortSignal;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** A promise actor whose every invocation waits for the test to resolve or reject it. */
function manual<T, I>(name: string) {
  const calls: Call<T, I>[] = [];
  const logic = fromPromise<T, I>(({ input, signal }) => new Promise<T>((resolve, reject) => calls.push({ input, signal, resolve, reject })));
  const last = () => {
    const call = calls.at(-1);
    if (!call) throw new Error(`test: ${name} was never invoked`);
    return call;
  };
  return { logic, calls, last, inputs: () => calls.map((c) => c.input) };
}

/** Fresh fakes for every actor the rollout invokes. */
function fakes() {
  return {
    openDeployment: manual<number, RolloutContext>("openDeployment"),
    prepareImage: manual<void, RevisionInput>("prepareImage"),
    deployStep: manual<StepResult, RevisionInput & { steps: number }>("deployStep"),
    awaitHealthy: manual<void, RevisionInput>("awaitHealthy"),
    cleanUp: manual<void, RevisionInput>("cleanUp"),
    restore: manual<void, RevisionInput>("restore"),
  };
}

type Fakes = ReturnType<typeof fakes>;

function provided(f: Fakes) {
  return rolloutMachine.provide({
    actors: {
      openDeployment: f.openDeployment.logic,
      prepareImage: f.prepareImage.logic,
      deployStep: f.deployStep.logic,
      awaitHealthy: f.awaitHealthy.logic,
      cleanUp: f.cleanUp.logic,
      restore: f.restore.logic,
    },
  });
}

/** A started rollout actor on a simulated clock, every actor a manual fake. */
function start(overrides: Partial<RolloutInput> = {}, options: { snapshot?: Snapshot<unknown> } = {}) {
  const f = fakes();
  const clock = new SimulatedClock();
  const machine = provided(f);
  // A restored actor takes its context from the snapshot; the input (required by the types) is ignored then.
  const actor = createActor(machine, { input: { ...INPUT, ...overrides }, snapshot: options.snapshot, clock }).start();
  const snapshot = () => actor.getSnapshot();
  /** Waits until the actor is in `state`; rejects if it finishes elsewhere. */
  const reach = async (state: string) => (await waitFor(actor, (s) => s.value === state)).context;
  return { actor, clock, f, snapshot, state: () => snapshot().value, context: () => snapshot().context, reach };
}

type Rollout = ReturnType<typeof start>;

/** Plays the happy path up to a state: deploymentId 42, image ready, one step not done yet. */
async function toBuilding(t: Rollout) {
  t.f.openDeployment.last().resolve(42);
  return t.reach("building");
}
async function toDeploying(t: Rollout) {
  await toBuilding(t);
  t.f.prepareImage.last().resolve();
  return t.reach("deploying");
}
async function toHealthCheck(t: Rollout, waiting: number[] = [1, 2]) {
  await toDeploying(t);
  t.f.deployStep.last().resolve({ done: false, waiting });
  return t.reach("healthCheck");
}
/** Health check fails, the rollout rolls back, restore succeeds. */
async function toVerifyingRollback(t: Rollout) {
  await toHealthCheck(t);
  t.f.awaitHealthy.last().reject(new Error("container web-1 is unhealthy"));
  await t.reach("rollingBack");
  t.f.restore.last().resolve();
  return t.reach("verifyingRollback");
}

const revisionInput = (revision: string) => ({ key: KEY, revision });

describe("rolloutMachine: happy path", () => {
  it("starts Initiated and opens a deployment with the whole context", () => {
    const t = start();
    expect(t.state()).toBe("initiated");
    expect(t.context()).toEqual({ ...INPUT, phase: "Initiated", steps: 0, waiting: [] });
    expect(t.f.openDeployment.inputs()).toEqual([{ ...INPUT, phase: "Initiated", steps: 0, waiting: [] }]);
  });

  it("initiated -> building: stores the deploymentId and prepares the revision's image", async () => {
    const t = start();
    const context = await toBuilding(t);
    expect(context.deploymentId).toBe(42);
    expect(context.phase).toBe("Building");
    expect(t.f.prepareImage.inputs()).toEqual([revisionInput(REVISION)]);
  });

  it("building -> deploying: runs a deploy step of the revision", async () => {
    const t = start();
    const context = await toDeploying(t);
    expect(context.phase).toBe("Deploying");
    expect(t.f.deployStep.inputs()).toEqual([{ ...revisionInput(REVISION), steps: 0 }]);
  });

  it("deploying, step done -> completing (phase Complete) -> complete once clean-up is done", async () => {
    const t = start();
    await toDeploying(t);
    t.f.deployStep.last().resolve({ done: true, waiting: [] });
    const completing = await t.reach("completing");
    expect(completing).toMatchObject({ phase: "Complete", steps: 1, waiting: [] });
    expect(t.f.cleanUp.inputs()).toEqual([revisionInput(REVISION)]);
    expect(t.f.awaitHealthy.calls).toEqual([]);
    t.f.cleanUp.last().resolve();
    const context = await t.reach("complete");
    expect(context.phase).toBe("Complete");
    expect(context.failure).toBeUndefined();
    expect(t.snapshot().status).toBe("done");
  });

  it("a clean-up that fails still completes the rollout", async () => {
    const t = start();
    await toDeploying(t);
    t.f.deployStep.last().resolve({ done: true, waiting: [] });
    await t.reach("completing");
    t.f.cleanUp.last().reject(new Error("remove container: 500 device busy"));
    const context = await t.reach("complete");
    expect(context.phase).toBe("Complete");
    expect(context.failure).toBeUndefined();
  });

  it("deploying <-> healthCheck loops until a step is done, counting steps and recording waiting slots", async () => {
    const t = start();
    await toDeploying(t);

    t.f.deployStep.last().resolve({ done: false, waiting: [0] });
    expect(await t.reach("healthCheck")).toMatchObject({ phase: "HealthCheck", steps: 1, waiting: [0] });
    expect(t.f.awaitHealthy.inputs()).toEqual([revisionInput(REVISION)]);

    t.f.awaitHealthy.last().resolve();
    expect(await t.reach("deploying")).toMatchObject({ phase: "Deploying", steps: 1 });

    t.f.deployStep.last().resolve({ done: false, waiting: [1, 2] });
    expect(await t.reach("healthCheck")).toMatchObject({ steps: 2, waiting: [1, 2] });

    t.f.awaitHealthy.last().resolve();
    await t.reach("deploying");
    t.f.deployStep.last().resolve({ done: true, waiting: [] });
    expect(await t.reach("completing")).toMatchObject({ steps: 3, waiting: [] });

    expect(t.f.deployStep.calls).toHaveLength(3);
    expect(t.f.awaitHealthy.calls).toHaveLength(2);
    expect(t.f.restore.calls).toEqual([]);
  });

  it("the health timeout is per step: every healthCheck entry gets the full timeout", async () => {
    const t = start();
    await toHealthCheck(t);
    t.clock.increment(TIMEOUT_MS - 1);
    t.f.awaitHealthy.last().resolve();
    await t.reach("deploying");
    t.f.deployStep.last().resolve({ done: false, waiting: [2] });
    await t.reach("healthCheck");
    t.clock.increment(TIMEOUT_MS - 1);
    expect(t.state()).toBe("healthCheck");
    t.clock.increment(1);
    expect(t.context().failure).toBe("slot(s) 2 not ready within 30 s");
  });
});

describe("rolloutMachine: failures before the health check", () => {
  it.each([
    { name: "autoRollback and a previous revision", overrides: {}, state: "rollingBack", phase: "RollingBack" },
    { name: "no previous revision", overrides: { previous: undefined }, state: "stalled", phase: "Failed" },
  ])("openDeployment error -> failed -> $state ($name)", async ({ overrides, state, phase }) => {
    const t = start(overrides);
    t.f.openDeployment.last().reject(new Error("database is locked"));
    const context = await t.reach(state);
    expect(context).toMatchObject({ phase, failure: "database is locked" });
    expect(context.deploymentId).toBeUndefined();
    expect(t.f.prepareImage.calls).toEqual([]);
  });

  it.each([
    { name: "prepareImage (building)", to: toBuilding, fail: (t: Rollout) => t.f.prepareImage.last().reject(new Error("pull web:2: manifest unknown")), failure: "pull web:2: manifest unknown" },
    { name: "deployStep (deploying)", to: toDeploying, fail: (t: Rollout) => t.f.deployStep.last().reject(new Error("create container: 409 name in use")), failure: "create container: 409 name in use" },
    { name: "a non-Error value", to: toBuilding, fail: (t: Rollout) => t.f.prepareImage.last().reject("socket hang up"), failure: "socket hang up" },
  ])("$name error -> failed, failure recorded -> rollingBack", async ({ to, fail, failure }) => {
    const t = start();
    await to(t);
    fail(t);
    const context = await t.reach("rollingBack");
    expect(context).toMatchObject({ phase: "RollingBack", failure, deploymentId: 42 });
    expect(t.f.restore.inputs()).toEqual([revisionInput(PREVIOUS)]);
  });

  it("building error without autoRollback -> stalled, phase Failed", async () => {
    const t = start({ autoRollback: false });
    await toBuilding(t);
    t.f.prepareImage.last().reject(new Error("build failed: exit 2"));
    expect(await t.reach("stalled")).toMatchObject({ phase: "Failed", failure: "build failed: exit 2" });
    expect(t.f.restore.calls).toEqual([]);
  });

  it("unprovided actors fail with a clear message", async () => {
    const actor = createActor(rolloutMachine, { input: { ...INPUT, previous: undefined }, clock: new SimulatedClock() }).start();
    const { context } = await waitFor(actor, (s) => s.status === "done");
    expect(actor.getSnapshot().value).toBe("stalled");
    expect(context.failure).toBe("the openDeployment actor was not provided");
  });
});

describe("rolloutMachine: health check failures", () => {
  it("awaitHealthy rejects -> failure recorded -> rollingBack with the previous revision", async () => {
    const t = start();
    await toHealthCheck(t);
    t.f.awaitHealthy.last().reject(new Error("container shop-production-web-1-aaaaaaa is unhealthy"));
    const context = await t.reach("rollingBack");
    expect(context).toMatchObject({ phase: "RollingBack", failure: "container shop-production-web-1-aaaaaaa is unhealthy" });
    expect(t.f.restore.inputs()).toEqual([revisionInput(PREVIOUS)]);
  });

  it("health timeout -> failure names the waiting slots -> rollingBack; the health wait is aborted", async () => {
    const t = start();
    await toHealthCheck(t, [1, 2]);
    const wait = t.f.awaitHealthy.last();
    t.clock.increment(TIMEOUT_MS - 1);
    expect(t.state()).toBe("healthCheck");
    expect(wait.signal.aborted).toBe(false);
    t.clock.increment(1);
    expect(t.state()).toBe("rollingBack");
    expect(t.context()).toMatchObject({ phase: "RollingBack", failure: "slot(s) 1, 2 not ready within 30 s" });
    expect(wait.signal.aborted).toBe(true);
    expect(t.f.restore.inputs()).toEqual([revisionInput(PREVIOUS)]);
  });

  it("no timeout while deploying: a slow deploy step is not cut short", async () => {
    const t = start();
    await toDeploying(t);
    t.clock.increment(TIMEOUT_MS * 10);
    expect(t.state()).toBe("deploying");
  });

  it.each([
    { name: "autoRollback false", overrides: { autoRollback: false } },
    { name: "no previous revision", overrides: { previous: undefined } },
    { name: "previous === revision", overrides: { previous: REVISION } },
  ])("$name -> stalled, phase Failed, nothing restored", async ({ overrides }) => {
    const t = start(overrides);
    await toHealthCheck(t);
    t.f.awaitHealthy.last().reject(new Error("container web-1 exited with code 1"));
    const context = await t.reach("stalled");
    expect(context).toMatchObject({ phase: "Failed", failure: "container web-1 exited with code 1" });
    expect(context.rollbackError).toBeUndefined();
    expect(t.f.restore.calls).toEqual([]);
    expect(t.snapshot().status).toBe("done");
  });

  it("health timeout with autoRollback false -> stalled", async () => {
    const t = start({ autoRollback: false, healthTimeoutMs: 90_000 });
    await toHealthCheck(t, [0]);
    t.clock.increment(90_000);
    expect(t.state()).toBe("stalled");
    expect(t.context()).toMatchObject({ phase: "Failed", failure: "slot(s) 0 not ready within 90 s" });
  });
});

describe("rolloutMachine: rollback", () => {
  it("restore rejects -> rollbackFailed with rollbackError, the original failure kept", async () => {
    const t = start();
    await toHealthCheck(t);
    t.f.awaitHealthy.last().reject(new Error("container web-1 is unhealthy"));
    await t.reach("rollingBack");
    t.f.restore.last().reject(new Error("start container: port 8080 already allocated"));
    const context = await t.reach("rollbackFailed");
    expect(context).toMatchObject({ phase: "Failed", failure: "container web-1 is unhealthy", rollbackError: "start container: port 8080 already allocated" });
    expect(rolloutOutcome(t.state() as string)).toBe("failed");
  });

  it("restore done -> verifyingRollback waits for the previous revision to be healthy", async () => {
    const t = start();
    const context = await toVerifyingRollback(t);
    expect(context.phase).toBe("RollingBack");
    expect(t.f.awaitHealthy.inputs()).toEqual([revisionInput(REVISION), revisionInput(PREVIOUS)]);
  });

  it("verifyingRollback, previous revision healthy -> rolledBack, phase RolledBack", async () => {
    const t = start();
    await toVerifyingRollback(t);
    t.f.awaitHealthy.last().resolve();
    const context = await t.reach("rolledBack");
    expect(context).toMatchObject({ phase: "RolledBack", failure: "container web-1 is unhealthy" });
    expect(context.rollbackError).toBeUndefined();
    expect(t.snapshot().status).toBe("done");
  });

  it("verifyingRollback, awaitHealthy rejects -> rollbackFailed", async () => {
    const t = start();
    await toVerifyingRollback(t);
    t.f.awaitHealthy.last().reject(new Error("container web-0 is unhealthy"));
    expect(await t.reach("rollbackFailed")).toMatchObject({ phase: "Failed", rollbackError: "container web-0 is unhealthy" });
  });

  it("verifyingRollback timeout -> rollbackFailed", async () => {
    const t = start();
    await toVerifyingRollback(t);
    t.clock.increment(TIMEOUT_MS - 1);
    expect(t.state()).toBe("verifyingRollback");
    t.clock.increment(1);
    expect(t.state()).toBe("rollbackFailed");
    expect(t.context()).toMatchObject({ phase: "Failed", rollbackError: "previous revision not ready within 30 s" });
    expect(t.f.awaitHealthy.last().signal.aborted).toBe(true);
  });

  it("RESUME in verifyingRollback restarts the wait and its timeout", async () => {
    const t = start();
    await toVerifyingRollback(t);
    t.clock.increment(TIMEOUT_MS - 1);
    t.actor.send({ type: "RESUME" });
    expect(t.f.awaitHealthy.inputs()).toEqual([revisionInput(REVISION), revisionInput(PREVIOUS), revisionInput(PREVIOUS)]);
    t.clock.increment(TIMEOUT_MS - 1);
    expect(t.state()).toBe("verifyingRollback");
    t.clock.increment(1);
    expect(t.state()).toBe("rollbackFailed");
  });
});

describe("rolloutMachine: SUPERSEDE", () => {
  it.each([
    { name: "deploying", to: toDeploying, pending: (t: Rollout) => t.f.deployStep.last() },
    { name: "healthCheck", to: (t: Rollout) => toHealthCheck(t), pending: (t: Rollout) => t.f.awaitHealthy.last() },
    { name: "building", to: toBuilding, pending: (t: Rollout) => t.f.prepareImage.last() },
  ])("from $name -> superseded, phase Failed, no rollback", async ({ to, pending }) => {
    const t = start();
    await to(t);
    const call = pending(t);
    t.actor.send({ type: "SUPERSEDE", revision: "c".repeat(64) });
    expect(t.state()).toBe("superseded");
    expect(t.context()).toMatchObject({ phase: "Failed", failure: `superseded by revision ${"c".repeat(12)}` });
    expect(call.signal.aborted).toBe(true);
    expect(t.f.restore.calls).toEqual([]);
    expect(t.snapshot().status).toBe("done");
  });

  it("a superseded rollout ignores its stale health timeout", async () => {
    const t = start();
    await toHealthCheck(t);
    t.actor.send({ type: "SUPERSEDE", revision: "c".repeat(64) });
    t.clock.increment(TIMEOUT_MS);
    expect(t.state()).toBe("superseded");
    expect(t.context().failure).toBe(`superseded by revision ${"c".repeat(12)}`);
  });
});

describe("rolloutMachine: RESUME", () => {
  it("in healthCheck restarts the health wait and its timeout", async () => {
    const t = start();
    await toHealthCheck(t);
    const first = t.f.awaitHealthy.last();
    t.clock.increment(TIMEOUT_MS - 1_000);
    t.actor.send({ type: "RESUME" });
    expect(t.state()).toBe("healthCheck");
    expect(first.signal.aborted).toBe(true);
    expect(t.f.awaitHealthy.inputs()).toEqual([revisionInput(REVISION), revisionInput(REVISION)]);

    // Well past the first deadline, still short of the restarted one.
    t.clock.increment(TIMEOUT_MS - 1);
    expect(t.state()).toBe("healthCheck");
    expect(t.context().failure).toBeUndefined();

    t.clock.increment(1);
    expect(t.state()).toBe("rollingBack");
  });

  it("in healthCheck does not count a step", async () => {
    const t = start();
    await toHealthCheck(t);
    t.actor.send({ type: "RESUME" });
    expect(t.context()).toMatchObject({ phase: "HealthCheck", steps: 1, waiting: [1, 2] });
    t.f.awaitHealthy.last().resolve();
    await t.reach("deploying");
    expect(t.f.deployStep.calls).toHaveLength(2);
  });

  it("is ignored while deploying", async () => {
    const t = start();
    await toDeploying(t);
    t.actor.send({ type: "RESUME" });
    expect(t.state()).toBe("deploying");
    expect(t.f.deployStep.calls).toHaveLength(1);
  });
});

describe("rolloutMachine: persistence", () => {
  it("a snapshot taken in healthCheck, JSON round-tripped and restored, re-invokes awaitHealthy and runs to complete", async () => {
    const first = start();
    await toHealthCheck(first, [2]);
    const persisted = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as Snapshot<unknown>;
    first.actor.stop();

    const t = start({}, { snapshot: persisted });
    expect(t.state()).toBe("healthCheck");
    expect(t.context()).toEqual({ ...INPUT, phase: "HealthCheck", deploymentId: 42, steps: 1, waiting: [2] });
    // Restored invocations restart; nothing before healthCheck runs again.
    expect(t.f.awaitHealthy.inputs()).toEqual([revisionInput(REVISION)]);
    expect(t.f.openDeployment.calls).toEqual([]);
    expect(t.f.prepareImage.calls).toEqual([]);
    expect(t.f.deployStep.calls).toEqual([]);

    t.f.awaitHealthy.last().resolve();
    await t.reach("deploying");
    t.f.deployStep.last().resolve({ done: true, waiting: [] });
    await t.reach("completing");
    t.f.cleanUp.last().resolve();
    const context = await t.reach("complete");
    expect(context).toMatchObject({ phase: "Complete", deploymentId: 42, steps: 2 });
    expect(rolloutOutcome(t.state() as string)).toBe("success");
  });

  it("after a restore, RESUME restarts the health timeout", async () => {
    const first = start();
    await toHealthCheck(first, [0]);
    const persisted = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as Snapshot<unknown>;
    first.actor.stop();

    const t = start({}, { snapshot: persisted });
    t.actor.send({ type: "RESUME" });
    expect(t.f.awaitHealthy.calls).toHaveLength(2);
    expect(t.f.awaitHealthy.calls[0]!.signal.aborted).toBe(true);
    t.clock.increment(TIMEOUT_MS);
    expect(t.state()).toBe("rollingBack");
    expect(t.context().failure).toBe("slot(s) 0 not ready within 30 s");
  });

  it("a snapshot taken in rollingBack restores and re-runs restore with the previous revision", async () => {
    const first = start();
    await toHealthCheck(first);
    first.f.awaitHealthy.last().reject(new Error("unhealthy"));
    await first.reach("rollingBack");
    const persisted = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as Snapshot<unknown>;
    first.actor.stop();

    const t = start({}, { snapshot: persisted });
    expect(t.state()).toBe("rollingBack");
    expect(t.f.restore.inputs()).toEqual([revisionInput(PREVIOUS)]);
    t.f.restore.last().resolve();
    await t.reach("verifyingRollback");
    t.f.awaitHealthy.last().resolve();
    expect(await t.reach("rolledBack")).toMatchObject({ phase: "RolledBack", failure: "unhealthy" });
  });
});

describe("rolloutOutcome", () => {
  it.each([
    { state: "complete", outcome: "success" },
    { state: "rolledBack", outcome: "rolled_back" },
    { state: "stalled", outcome: "failed" },
    { state: "rollbackFailed", outcome: "failed" },
    { state: "superseded", outcome: "failed" },
    { state: "initiated", outcome: undefined },
    { state: "building", outcome: undefined },
    { state: "deploying", outcome: undefined },
    { state: "healthCheck", outcome: undefined },
    { state: "completing", outcome: undefined },
    { state: "failed", outcome: undefined },
    { state: "rollingBack", outcome: undefined },
    { state: "verifyingRollback", outcome: undefined },
  ])("$state -> $outcome", ({ state, outcome }) => {
    expect(rolloutOutcome(state)).toBe(outcome);
  });

  it("maps every final state of the machine to an outcome, and no other", () => {
    const states = Object.entries(rolloutMachine.config.states ?? {});
    const finals = states.filter(([, s]) => s.type === "final").map(([name]) => name);
    expect(finals.sort()).toEqual(["complete", "rollbackFailed", "rolledBack", "stalled", "superseded"]);
    for (const [name] of states) expect(rolloutOutcome(name) !== undefined, name).toBe(finals.includes(name));
  });
});
