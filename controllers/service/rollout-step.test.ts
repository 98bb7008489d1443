import { afterAll, describe, expect, it } from "vitest";
import { buildDesiredModel, type DesiredService } from "../../src/desired/model.ts";
import { loadManifests } from "../../src/manifests/load.ts";
import { observedContainer } from "../../test/support/containers.ts";
import { createManifestDir, type ManifestDir } from "../../test/support/manifest-dir.ts";
import { shopFiles, type Spec } from "../../test/support/shop.ts";
import { describeServiceAction } from "./plan.ts";
import { advanceRollout, rolloutOutcome, startRollout, type RolloutEvent, type RolloutInput, type RolloutRecord } from "./rollout-machine.ts";
import type { ReplicaView } from "./rollout-plan.ts";
import { HEALTH_POLL_MS, stepRollout, stepRolloutPass, supersedeRollout, type RolloutWorld } from "./rollout-step.ts";

// ---------------------------------------------------------------------------
// Fixtures: Service web of project shop in Environment dev on target local,
// loaded by the real loader. TARGET (web:2) is rolled out over PREVIOUS (web:1);
// both have an http health check. Containers are named as Berth names them:
// shop-dev-web-<slot>-<first 7 hex of the revision>.
// ---------------------------------------------------------------------------

const dirs: ManifestDir[] = [];

/** shop/dev/web with the given spec, through loadManifests and buildDesiredModel. */
async function webWith(spec: Spec, files: Record<string, string> = {}): Promise<DesiredService> {
  const dir = createManifestDir(shopFiles({ services: { web: spec }, files }));
  dirs.push(dir);
  const state = await loadManifests(dir.dir);
  if (state.errors.length) throw new Error(`test manifests are invalid: ${state.errors.map((e) => e.message).join("; ")}`);
  const web = buildDesiredModel(state).services.get("Service/dev/web");
  if (!web || web.error) throw new Error(`Service/dev/web is not deployable in the test model: ${web?.error ?? "missing"}`);
  return web;
}

afterAll(() => {
  for (const dir of dirs.splice(0)) dir.cleanup();
});

const HEALTH = { http: { path: "/healthz", port: 8080 } };
const CHECK = "http GET :8080/healthz";

const TARGET = await webWith({ image: "web:2", healthCheck: HEALTH });
const PREVIOUS = await webWith({ image: "web:1", healthCheck: HEALTH });
/** web:2 that Berth may not pull. */
const NEVER = await webWith({ image: "web:2", imagePullPolicy: "Never", healthCheck: HEALTH });
/** Built from a context in the manifests: tagged berth-build/shop-web:<hash>, pullPolicy Never. */
const BUILT = await webWith({ build: { context: "images/web" } }, { "images/web/Dockerfile": "FROM busybox\n", "images/web/server.js": "console.log('v2')\n" });
/** web:3 without a health check. */
const PLAIN = await webWith({ image: "web:3" });

const short = (s: DesiredService) => s.specHash.slice(0, 7);
const nameOf = (s: DesiredService, slot: number) => `shop-dev-web-${slot}-${short(s)}`;

const T0 = 1_700_000_000_000;
const TIMEOUT_MS = 30_000;
const POLL_MS = 250;

/** A running, ready container of `service` in `slot`; later calls are newer. */
function view(service: DesiredService, slot: number, overrides: Partial<ReplicaView> = {}): ReplicaView {
  return { ...observedContainer(slot, service.specHash), ready: true, unhealthy: false, ...overrides };
}
/** A new container whose health check has not passed yet. */
const starting = (service: DesiredService, slot: number) => view(service, slot, { ready: false });
/** A container a rolling step stopped (exit 0 after SIGTERM handling). */
const stopped = (service: DesiredService, slot: number) => view(service, slot, { state: "exited", exitCode: 0, ready: false });

interface WorldOptions {
  now?: number;
  /** Image refs present on the target; default both web:2 and web:1. */
  images?: string[];
  /** Last health check output by container id. */
  outputs?: Record<string, string>;
}

function world(views: ReplicaView[], { now = T0, images = [TARGET.image.ref, PREVIOUS.image.ref], outputs = {} }: WorldOptions = {}): RolloutWorld {
  return { now, views, imagePresent: (ref) => images.includes(ref), checkOutput: (id) => outputs[id] };
}

/** A rollout of `target` over `previous`, after the given events. */
function record(events: RolloutEvent[], target: DesiredService = TARGET, overrides: Partial<RolloutInput> = {}): RolloutRecord {
  const input: RolloutInput = { key: target.key, revision: target.specHash, manifestRevision: target.specHash, previous: PREVIOUS.specHash, autoRollback: true, healthTimeoutMs: TIMEOUT_MS, trigger: "manifest", deploymentId: 7, startedAt: T0, ...overrides };
  return events.reduce(advanceRollout, startRollout(input));
}

const UNHEALTHY = "container shop-dev-web-0-xxxxxxx is unhealthy";
/** Events into each state: one step taken at T0 (deadline T0 + 30 s) waiting on slot 0. */
const into = {
  building: [],
  deploying: [{ type: "IMAGE_READY" }],
  healthCheck: [{ type: "IMAGE_READY" }, { type: "STEPPED", done: false, waiting: [0], now: T0 }],
  /** Back in deploying after a health check passed: a later step. */
  deployingAgain: [{ type: "IMAGE_READY" }, { type: "STEPPED", done: false, waiting: [0], now: T0 }, { type: "READY" }],
  completing: [{ type: "IMAGE_READY" }, { type: "STEPPED", done: true, waiting: [], now: T0 }],
  rollingBack: [{ type: "IMAGE_READY" }, { type: "STEPPED", done: false, waiting: [0], now: T0 }, { type: "FAILED", failure: UNHEALTHY }],
  verifyingRollback: [{ type: "IMAGE_READY" }, { type: "STEPPED", done: false, waiting: [0], now: T0 }, { type: "FAILED", failure: UNHEALTHY }, { type: "RESTORED", now: T0 }],
} satisfies Record<string, RolloutEvent[]>;

/** A step's result with its actions as `berth plan` prints them. */
function step(at: RolloutRecord, target: DesiredService, previous: DesiredService | undefined, seen: RolloutWorld) {
  const result = stepRollout(at, target, previous, seen, POLL_MS);
  return { state: result.record.state, actions: result.actions.map(describeServiceAction), requeueAfterMs: result.requeueAfterMs, record: result.record };
}

describe("stepRollout: building", () => {
  it.each([
    { name: "image present -> deploying, nothing to do", target: TARGET, images: [TARGET.image.ref] },
    { name: "image present under pullPolicy Never -> deploying", target: NEVER, images: [NEVER.image.ref] },
    { name: "built image present -> deploying, not built again", target: BUILT, images: [BUILT.image.ref] },
  ])("$name", ({ target, images }) => {
    const result = step(record(into.building, target), target, PREVIOUS, world([], { images }));
    expect(result).toMatchObject({ state: "deploying", actions: [], requeueAfterMs: 0 });
    expect(result.record.context.phase).toBe("Deploying");
  });

  it.each([
    { name: "pullable (IfNotPresent) -> pulled", target: TARGET, want: [`pull web:2 (image not present)`] },
    { name: "built image -> built", target: BUILT, want: [`build ${BUILT.image.ref} (image not built yet)`] },
  ])("image absent, $name; the record stays in building", ({ target, want }) => {
    const at = record(into.building, target);
    const result = stepRollout(at, target, PREVIOUS, world([], { images: [] }), POLL_MS);
    expect(result.record).toBe(at);
    expect(result.actions.map(describeServiceAction)).toEqual(want);
    expect(result.requeueAfterMs).toBe(0);
  });

  it("image absent, pullPolicy Never and nothing to build -> failed, naming the image, the revision and the target", () => {
    const at = record(into.building, NEVER);
    const result = step(at, NEVER, PREVIOUS, world([], { images: [] }));
    expect(result.actions).toEqual([]);
    expect(result.requeueAfterMs).toBe(0);
    // Failed with a previous revision and autoRollback: the rollout goes back.
    expect(result.state).toBe("rollingBack");
    expect(result.record.context.failure).toBe(`image web:2 of revision ${NEVER.specHash.slice(0, 12)} is not on DeploymentTarget/local (imagePullPolicy is Never; expected it built or loaded there first)`);
  });

  it("image absent under Never without a previous revision -> stalled", () => {
    const result = step(record(into.building, NEVER, { previous: undefined }), NEVER, undefined, world([], { images: [] }));
    expect(result.state).toBe("stalled");
    expect(rolloutOutcome(result.state)).toBe("failed");
    expect(result.record.context.failure).toContain("image web:2 of revision");
  });

  it("rolling back to an older stored (built, so Never) revision whose image was pruned -> the failure says why", () => {
    // An operator's rollback: the manifest asks for PREVIOUS's revision, the rollout runs the stored revision NEVER stands for.
    const at = record(into.building, NEVER, { manifestRevision: PREVIOUS.specHash, trigger: "rollback", previous: undefined });
    const result = step(at, NEVER, undefined, world([], { images: [] }));
    expect(result.state).toBe("stalled");
    expect(result.record.context.failure).toMatch(new RegExp(`^image web:2 of revision ${NEVER.specHash.slice(0, 12)} is not on DeploymentTarget/local \\(built images are pruned beyond the newest five`));
  });
});

describe("stepRollout: deploying", () => {
  it("first rollout, nothing running -> a create of the target revision, then healthCheck waiting on its slot", () => {
    const at = record(into.deploying);
    const result = stepRollout(at, TARGET, undefined, world([], { now: T0 + 5_000 }), POLL_MS);
    expect(result.actions).toEqual([{ type: "create", slot: 0, name: nameOf(TARGET, 0), revision: TARGET.specHash, reason: "new revision" }]);
    expect(result.record.state).toBe("healthCheck");
    expect(result.record.context).toMatchObject({ phase: "HealthCheck", steps: 1, waiting: [0], deadline: T0 + 5_000 + TIMEOUT_MS });
    expect(result.requeueAfterMs).toBe(POLL_MS);
  });

  it("over a running previous revision: the new container starts beside the old one", () => {
    const result = step(record(into.deploying), TARGET, PREVIOUS, world([view(PREVIOUS, 0)], { now: T0 + 1 }));
    expect(result.actions).toEqual([`create ${nameOf(TARGET, 0)} (new revision beside the old one)`]);
    expect(result.state).toBe("healthCheck");
    expect(result.record.context).toMatchObject({ waiting: [0], deadline: T0 + 1 + TIMEOUT_MS });
  });

  it.each([
    { name: "with a health check: outside the service's name, to join it once ready", target: TARGET, want: { joinWhenReady: true } },
    { name: "without one: in the name at once", target: PLAIN, want: {} },
  ])("beside the serving previous revision, the new container is created $name", ({ target, want }) => {
    const result = stepRollout(record(into.deploying, target), target, PREVIOUS, world([view(PREVIOUS, 0)], { images: [target.image.ref, PREVIOUS.image.ref] }), POLL_MS);
    expect(result.actions).toStrictEqual([{ type: "create", slot: 0, name: nameOf(target, 0), revision: target.specHash, reason: "new revision beside the old one", ...want }]);
  });

  it("the new container is ready but outside the service's name: it joins, the old one keeps serving, the slot still waits", () => {
    const fresh = view(TARGET, 0, { joinWhenReady: true, unjoined: true });
    const result = stepRollout(record(into.deployingAgain), TARGET, PREVIOUS, world([view(PREVIOUS, 0), fresh]), POLL_MS);
    expect(result.actions).toEqual([{ type: "join", id: fresh.id, name: nameOf(TARGET, 0), networks: fresh.networks, reason: "ready" }]);
    expect(result.record.state).toBe("healthCheck");
    expect(result.record.context).toMatchObject({ steps: 2, waiting: [0] });
    expect(result.requeueAfterMs).toBe(POLL_MS);
  });

  it("the poll interval defaults to HEALTH_POLL_MS", () => {
    expect(stepRollout(record(into.deploying), TARGET, PREVIOUS, world([view(PREVIOUS, 0)])).requeueAfterMs).toBe(HEALTH_POLL_MS);
  });

  it("the new container is ready: the old one is retired and the rollout waits no more -> healthCheck with nothing waiting", () => {
    const old = view(PREVIOUS, 0);
    const result = step(record(into.deployingAgain), TARGET, PREVIOUS, world([old, view(TARGET, 0)]));
    expect(result.actions).toEqual([`retire ${nameOf(PREVIOUS, 0)} (replacement is ready)`]);
    expect(result.state).toBe("healthCheck");
    expect(result.record.context).toMatchObject({ steps: 2, waiting: [] });
  });

  it("the old container is retired and still stopping: the rollout does not wait for it -> completing, at once", () => {
    const result = step(record(into.deployingAgain), TARGET, PREVIOUS, world([view(PREVIOUS, 0, { detached: true, networks: [] }), view(TARGET, 0)]));
    expect(result).toMatchObject({ state: "completing", actions: [], requeueAfterMs: 0 });
  });

  it("every slot runs the ready new revision and the old one is stopped -> completing, at once", () => {
    const result = step(record(into.deployingAgain), TARGET, PREVIOUS, world([stopped(PREVIOUS, 0), view(TARGET, 0)]));
    expect(result).toMatchObject({ state: "completing", actions: [], requeueAfterMs: 0 });
    expect(result.record.context.phase).toBe("Complete");
  });

  it("a later step finds the new container unhealthy -> failed, naming the container and the health check", () => {
    const sick = view(TARGET, 0, { ready: false, unhealthy: true });
    const result = step(record(into.deployingAgain), TARGET, PREVIOUS, world([view(PREVIOUS, 0), sick], { outputs: { [sick.id]: "HTTP 503" } }));
    expect(result.actions).toEqual([]);
    expect(result.state).toBe("rollingBack");
    expect(result.record.context.failure).toBe(`container ${nameOf(TARGET, 0)} is unhealthy; health check ${CHECK} last said: HTTP 503`);
  });

  it("the first step of a new attempt removes the containers that failed the last one and creates anew", () => {
    const sick = view(TARGET, 0, { ready: false, unhealthy: true });
    const result = step(record(into.deploying), TARGET, PREVIOUS, world([view(PREVIOUS, 0), sick]));
    expect(result.actions).toEqual([`remove ${nameOf(TARGET, 0)} (failed an earlier attempt)`, `create ${nameOf(TARGET, 0)} (new revision beside the old one)`]);
    expect(result.state).toBe("healthCheck");
  });
});

describe("stepRollout: healthCheck", () => {
  it("the new container is ready -> deploying, for the next step", () => {
    const result = step(record(into.healthCheck), TARGET, PREVIOUS, world([view(PREVIOUS, 0), view(TARGET, 0)], { now: T0 + 1_000 }));
    expect(result).toMatchObject({ state: "deploying", actions: [], requeueAfterMs: 0 });
  });

  it.each([
    { name: "just started", now: T0 + 1 },
    { name: "1 ms before the deadline", now: T0 + TIMEOUT_MS - 1 },
  ])("not ready yet, $name -> waits, polling", ({ now }) => {
    const at = record(into.healthCheck);
    const result = stepRollout(at, TARGET, PREVIOUS, world([view(PREVIOUS, 0), starting(TARGET, 0)], { now }), POLL_MS);
    expect(result).toEqual({ record: at, actions: [], requeueAfterMs: POLL_MS });
  });

  it.each([
    { name: "at the deadline, no check output", now: T0 + TIMEOUT_MS, outputs: false, failure: "slot(s) 0 not ready within 30 s" },
    { name: "past the deadline, with the check's last output", now: T0 + TIMEOUT_MS + 5_000, outputs: true, failure: `slot(s) 0 not ready within 30 s; health check ${CHECK} last said: connection refused` },
  ])("not ready, $name -> failed (timed out), naming the slot", ({ now, outputs, failure }) => {
    const fresh = starting(TARGET, 0);
    const result = step(record(into.healthCheck), TARGET, PREVIOUS, world([view(PREVIOUS, 0), fresh], { now, outputs: outputs ? { [fresh.id]: "connection refused" } : {} }));
    expect(result.actions).toEqual([]);
    expect(result.state).toBe("rollingBack");
    expect(result.record.context.failure).toBe(failure);
  });

  it("timed out without a previous revision -> stalled", () => {
    const result = step(record(into.healthCheck, TARGET, { previous: undefined }), TARGET, undefined, world([starting(TARGET, 0)], { now: T0 + TIMEOUT_MS }));
    expect(result.state).toBe("stalled");
    expect(result.record.context).toMatchObject({ phase: "Failed", failure: "slot(s) 0 not ready within 30 s" });
  });

  it.each([
    { name: "with the check's last output", outputs: true, failure: `container NAME is unhealthy; health check ${CHECK} last said: HTTP 500` },
    { name: "before the check said anything", outputs: false, failure: `container NAME is unhealthy; health check ${CHECK} has no result yet` },
  ])("the new container turns unhealthy, $name -> failed, naming the health check", ({ outputs, failure }) => {
    const sick = view(TARGET, 0, { ready: false, unhealthy: true });
    const result = step(record(into.healthCheck), TARGET, PREVIOUS, world([view(PREVIOUS, 0), sick], { now: T0 + 1, outputs: outputs ? { [sick.id]: "HTTP 500" } : {} }));
    expect(result.state).toBe("rollingBack");
    expect(result.record.context.failure).toBe(failure.replace("NAME", nameOf(TARGET, 0)));
  });

  it("an unhealthy container fails the rollout even past the deadline: the check, not the clock, is named", () => {
    const sick = view(TARGET, 0, { ready: false, unhealthy: true });
    const result = step(record(into.healthCheck), TARGET, PREVIOUS, world([sick], { now: T0 + TIMEOUT_MS * 2 }));
    expect(result.record.context.failure).toMatch(new RegExp(`^container ${nameOf(TARGET, 0)} is unhealthy; health check`));
  });

  it("without a health check a container that exited fails the rollout with just that", () => {
    const at = record(into.healthCheck, PLAIN);
    const result = step(at, PLAIN, PREVIOUS, world([view(PLAIN, 0, { state: "exited", exitCode: 1, ready: false })], { images: [PLAIN.image.ref] }));
    expect(result.state).toBe("rollingBack");
    expect(result.record.context.failure).toBe(`container ${nameOf(PLAIN, 0)} exited with code 1`);
  });
});

describe("stepRollout: completing", () => {
  it("-> complete, removing the old revision's stopped containers and anything beyond the replica count", () => {
    const beyond = view(PREVIOUS, 1, { state: "exited", exitCode: 0, ready: false });
    const result = step(record(into.completing), TARGET, PREVIOUS, world([stopped(PREVIOUS, 0), view(TARGET, 0), beyond]));
    expect(result.state).toBe("complete");
    expect(rolloutOutcome(result.state)).toBe("success");
    expect(result.actions).toEqual([`remove ${nameOf(PREVIOUS, 0)} (old revision, no longer needed for a rollback)`, `remove ${nameOf(PREVIOUS, 1)} (outside the replica count)`]);
    expect(result.requeueAfterMs).toBe(0);
  });

  it("a built image also prunes the service's old builds", () => {
    const result = step(record(into.completing, BUILT), BUILT, PREVIOUS, world([stopped(PREVIOUS, 0), view(BUILT, 0)], { images: [BUILT.image.ref] }));
    expect(result.state).toBe("complete");
    expect(result.actions).toEqual([`remove ${nameOf(PREVIOUS, 0)} (old revision, no longer needed for a rollback)`, "prune old built images (keep the newest built images of the service)"]);
  });

  it("a retired old container still stopping -> retired again, to be removed once it has stopped; the rollout completes without waiting", () => {
    const stopping = view(PREVIOUS, 0, { detached: true, networks: [] });
    const result = stepRollout(record(into.completing), TARGET, PREVIOUS, world([stopping, view(TARGET, 0)]), POLL_MS);
    expect(result.record.state).toBe("complete");
    expect(result.actions).toEqual([{ type: "retire", id: stopping.id, name: nameOf(PREVIOUS, 0), slot: 0, networks: stopping.networks, remove: true, reason: "old revision, no longer needed for a rollback" }]);
    expect(result.requeueAfterMs).toBe(0);
  });

  it("nothing old left -> complete with nothing to do", () => {
    expect(step(record(into.completing), TARGET, PREVIOUS, world([view(TARGET, 0)]))).toMatchObject({ state: "complete", actions: [] });
  });
});

describe("stepRollout: rollingBack", () => {
  it("with the previous revision's image -> verifyingRollback: the new container goes, the old one starts again", () => {
    const result = step(record(into.rollingBack), TARGET, PREVIOUS, world([stopped(PREVIOUS, 0), view(TARGET, 0, { ready: false, unhealthy: true })], { now: T0 + 40_000 }));
    expect(result.state).toBe("verifyingRollback");
    expect(result.actions).toEqual([`remove ${nameOf(TARGET, 0)} (rolled back)`, `start ${nameOf(PREVIOUS, 0)} (restore the previous revision)`]);
    expect(result.requeueAfterMs).toBe(POLL_MS);
    expect(result.record.context).toMatchObject({ phase: "RollingBack", failure: UNHEALTHY, deadline: T0 + 40_000 + TIMEOUT_MS });
  });

  it("the previous container is gone -> one is created from the previous spec", () => {
    const result = stepRollout(record(into.rollingBack), TARGET, PREVIOUS, world([view(TARGET, 0, { ready: false })]), POLL_MS);
    expect(result.record.state).toBe("verifyingRollback");
    expect(result.actions).toEqual([
      { type: "remove", id: expect.any(String) as string, name: nameOf(TARGET, 0), slot: 0, reason: "rolled back" },
      { type: "create", slot: 0, name: nameOf(PREVIOUS, 0), revision: PREVIOUS.specHash, reason: "restore the previous revision" },
    ]);
  });

  it("the previous container was retired (off the network) -> replaced by one created from the previous spec", () => {
    const retired = view(PREVIOUS, 0, { state: "exited", exitCode: 0, ready: false, detached: true, networks: [] });
    const result = step(record(into.rollingBack), TARGET, PREVIOUS, world([retired, view(TARGET, 0, { ready: false, unhealthy: true })]));
    expect(result.state).toBe("verifyingRollback");
    expect(result.actions).toEqual([`remove ${nameOf(TARGET, 0)} (rolled back)`, `remove ${nameOf(PREVIOUS, 0)} (restore the previous revision: taken out of service)`, `create ${nameOf(PREVIOUS, 0)} (restore the previous revision)`]);
  });

  it("the previous image is gone but its container is kept -> restored from the container", () => {
    const result = step(record(into.rollingBack), TARGET, PREVIOUS, world([stopped(PREVIOUS, 0)], { images: [TARGET.image.ref] }));
    expect(result.state).toBe("verifyingRollback");
    expect(result.actions).toEqual([`start ${nameOf(PREVIOUS, 0)} (restore the previous revision)`]);
  });

  it.each([
    { name: "the previous revision's spec is unknown", previous: undefined, views: [], images: [TARGET.image.ref], error: "the previous revision's spec is unknown" },
    { name: "its image and containers are gone", previous: PREVIOUS, views: [view(TARGET, 0, { ready: false })], images: [TARGET.image.ref], error: `image web:1 of revision ${PREVIOUS.specHash.slice(0, 12)} is no longer on DeploymentTarget/local` },
  ])("$name -> rollbackFailed", ({ previous, views, images, error }) => {
    const result = step(record(into.rollingBack), TARGET, previous, world(views, { images }));
    expect(result).toMatchObject({ state: "rollbackFailed", actions: [], requeueAfterMs: 0 });
    expect(result.record.context).toMatchObject({ phase: "Failed", failure: UNHEALTHY, rollbackError: error });
    expect(rolloutOutcome(result.state)).toBe("failed");
  });
});

describe("stepRollout: verifyingRollback", () => {
  it("the previous revision is ready and nothing is missing -> rolledBack", () => {
    const result = step(record(into.verifyingRollback), TARGET, PREVIOUS, world([view(PREVIOUS, 0)], { now: T0 + 1_000 }));
    expect(result).toMatchObject({ state: "rolledBack", actions: [], requeueAfterMs: 0 });
    expect(result.record.context).toMatchObject({ phase: "RolledBack", failure: UNHEALTHY });
    expect(rolloutOutcome(result.state)).toBe("rolled_back");
  });

  it("the previous revision is not ready yet -> waits, polling", () => {
    const at = record(into.verifyingRollback);
    expect(stepRollout(at, TARGET, PREVIOUS, world([view(PREVIOUS, 0, { ready: false })], { now: T0 + 1_000 }), POLL_MS)).toEqual({ record: at, actions: [], requeueAfterMs: POLL_MS });
  });

  it("ready, but the new container is still there (a crash left the restore half done) -> the restore is planned again", () => {
    const at = record(into.verifyingRollback);
    const result = stepRollout(at, TARGET, PREVIOUS, world([view(PREVIOUS, 0), view(TARGET, 0, { ready: false })], { now: T0 + 1_000 }), POLL_MS);
    expect(result.record).toBe(at);
    expect(result.actions.map(describeServiceAction)).toEqual([`remove ${nameOf(TARGET, 0)} (rolled back)`]);
    expect(result.requeueAfterMs).toBe(POLL_MS);
  });

  it.each([
    { name: "not ready by the deadline", views: () => [view(PREVIOUS, 0, { ready: false })], now: T0 + TIMEOUT_MS, error: "previous revision not ready within 30 s" },
    { name: "the previous container turns unhealthy", views: () => [view(PREVIOUS, 0, { ready: false, unhealthy: true })], now: T0 + 1, error: `container ${nameOf(PREVIOUS, 0)} is unhealthy` },
  ])("$name -> rollbackFailed", ({ views, now, error }) => {
    const result = step(record(into.verifyingRollback), TARGET, PREVIOUS, world(views(), { now }));
    expect(result.state).toBe("rollbackFailed");
    expect(result.record.context).toMatchObject({ phase: "Failed", failure: UNHEALTHY, rollbackError: error });
  });

  // Known bug: readiness() judges the previous container before the missing restore is
  // planned again, so a start the last pass did not carry out (a crash after the record
  // was written, or a failed start) ends the rollback as "exited with code 0" instead of
  // starting the container again. Flip to `it` once stepRollout plans `missing` first.
  it("the previous container is still stopped (its restore start was not carried out) -> the start is planned again", () => {
    const at = record(into.verifyingRollback);
    const result = step(at, TARGET, PREVIOUS, world([stopped(PREVIOUS, 0)], { now: T0 + 1_000 }));
    expect(result.state).toBe("verifyingRollback");
    expect(result.actions).toEqual([`start ${nameOf(PREVIOUS, 0)} (restore the previous revision)`]);
  });

  it("the previous revision's spec is unknown -> rollbackFailed", () => {
    expect(step(record(into.verifyingRollback), TARGET, undefined, world([])).record.context.rollbackError).toBe("the previous revision's spec is unknown");
  });
});

describe("stepRollout: final records", () => {
  it.each([
    { name: "complete", events: [...into.completing, { type: "CLEANED" }] },
    { name: "rolledBack", events: [...into.verifyingRollback, { type: "ROLLED_BACK" }] },
    { name: "superseded", events: [{ type: "SUPERSEDE", by: "c".repeat(64) }] },
  ] satisfies { name: string; events: RolloutEvent[] }[])("$name is never stepped", ({ name, events }) => {
    const at = record(events);
    expect(at.state).toBe(name);
    expect(stepRollout(at, TARGET, PREVIOUS, world([stopped(PREVIOUS, 0), view(TARGET, 0)]))).toEqual({ record: at, actions: [], requeueAfterMs: 0 });
  });
});

describe("stepRollout: idempotent", () => {
  const cases: { name: string; at: () => RolloutRecord; target: DesiredService; views: () => ReplicaView[]; images?: string[]; now?: number }[] = [
    { name: "building, image absent", at: () => record(into.building), target: TARGET, views: () => [], images: [] },
    { name: "deploying, first step", at: () => record(into.deploying), target: TARGET, views: () => [view(PREVIOUS, 0)] },
    { name: "deploying, the new container ready", at: () => record(into.deployingAgain), target: TARGET, views: () => [view(PREVIOUS, 0), view(TARGET, 0)] },
    { name: "healthCheck, waiting", at: () => record(into.healthCheck), target: TARGET, views: () => [view(PREVIOUS, 0), starting(TARGET, 0)] },
    { name: "healthCheck, timed out", at: () => record(into.healthCheck), target: TARGET, views: () => [starting(TARGET, 0)], now: T0 + TIMEOUT_MS },
    { name: "completing", at: () => record(into.completing, BUILT), target: BUILT, views: () => [stopped(PREVIOUS, 0), view(BUILT, 0)] },
    { name: "rollingBack", at: () => record(into.rollingBack), target: TARGET, views: () => [stopped(PREVIOUS, 0), view(TARGET, 0, { ready: false })] },
    { name: "verifyingRollback, restore half done", at: () => record(into.verifyingRollback), target: TARGET, views: () => [view(PREVIOUS, 0), view(TARGET, 0, { ready: false })] },
  ];

  it.each(cases)("$name: the same world twice gives the same step, and the record given is untouched", ({ at, target, views, images, now }) => {
    const given = at();
    const before = JSON.stringify(given);
    const seen = world(views(), { images, now });
    const first = stepRollout(given, target, PREVIOUS, seen, POLL_MS);
    const second = stepRollout(given, target, PREVIOUS, seen, POLL_MS);
    expect(second).toEqual(first);
    expect(JSON.stringify(given)).toBe(before);
  });

  it("a step stored as JSON and taken again after a restart plans the same", () => {
    const given = record(into.deploying);
    const seen = world([view(PREVIOUS, 0)]);
    const stored = JSON.parse(JSON.stringify(given)) as RolloutRecord;
    expect(stepRollout(stored, TARGET, PREVIOUS, seen, POLL_MS)).toEqual(stepRollout(given, TARGET, PREVIOUS, seen, POLL_MS));
  });
});

describe("stepRolloutPass", () => {
  /** A pass's result with its actions as `berth plan` prints them, and the states it moved through. */
  function pass(at: RolloutRecord, target: DesiredService, previous: DesiredService | undefined, seen: RolloutWorld, pollMs: number | "default" = POLL_MS) {
    const result = stepRolloutPass(at, target, previous, seen, pollMs === "default" ? undefined : pollMs);
    return { ...result, states: result.passed.map((r) => r.state), described: result.actions.map(describeServiceAction) };
  }

  it.each([
    { name: "no previous revision", previous: undefined, views: () => [], reason: "new revision", joinWhenReady: false },
    { name: "over the previous revision's running container", previous: PREVIOUS, views: () => [view(PREVIOUS, 0)], reason: "new revision beside the old one", joinWhenReady: true },
  ])("building, image present, $name -> through deploying, stops at healthCheck with the create", ({ previous, views, reason, joinWhenReady }) => {
    const at = record(into.building, TARGET, { previous: previous?.specHash });
    const result = pass(at, TARGET, previous, world(views(), { now: T0 + 5_000 }));
    expect(result.states).toEqual(["deploying", "healthCheck"]);
    expect(result.passed[0]!.context).toMatchObject({ phase: "Deploying", steps: 0 });
    expect(result.record).toBe(result.passed.at(-1));
    expect(result.record.context).toMatchObject({ phase: "HealthCheck", steps: 1, waiting: [0], deadline: T0 + 5_000 + TIMEOUT_MS, deploymentId: 7 });
    expect(result.described).toEqual([`create ${nameOf(TARGET, 0)} (${reason})`]);
    // TARGET has a health check: beside a serving container, the new one starts outside the service's name.
    expect(result.actions).toStrictEqual([{ type: "create", slot: 0, name: nameOf(TARGET, 0), revision: TARGET.specHash, reason, ...(joinWhenReady ? { joinWhenReady } : {}) }]);
    expect(result.requeueAfterMs).toBe(POLL_MS);
  });

  it("healthCheck, the new container ready but outside the name -> READY, then a deploy step joins it and waits again", () => {
    const fresh = view(TARGET, 0, { joinWhenReady: true, unjoined: true });
    const result = pass(record(into.healthCheck), TARGET, PREVIOUS, world([view(PREVIOUS, 0), fresh], { now: T0 + 1 }));
    expect(result.states).toEqual(["deploying", "healthCheck"]);
    expect(result.described).toEqual([`join ${nameOf(TARGET, 0)} (ready)`]);
    expect(result.record.context).toMatchObject({ waiting: [0] });
    expect(result.requeueAfterMs).toBe(POLL_MS);
  });

  it.each([
    { name: "the old revision's stopped container", target: TARGET, views: () => [stopped(PREVIOUS, 0), view(TARGET, 0)], cleanup: [`remove ${nameOf(PREVIOUS, 0)} (old revision, no longer needed for a rollback)`] },
    { name: "a built image's older builds", target: BUILT, views: () => [view(BUILT, 0)], cleanup: ["prune old built images (keep the newest built images of the service)"] },
  ])("healthCheck, every slot ready, no old container running -> READY, deploying done, completing, complete: cleans up $name", ({ target, views, cleanup }) => {
    const at = record(into.healthCheck, target);
    const result = pass(at, target, PREVIOUS, world(views(), { images: [target.image.ref, PREVIOUS.image.ref] }));
    expect(result.states).toEqual(["deploying", "completing", "complete"]);
    expect(result.passed.map((r) => r.context.phase)).toEqual(["Deploying", "Complete", "Complete"]);
    // The done step is counted; nothing waits any more.
    expect(result.passed[1]!.context).toMatchObject({ steps: 2, waiting: [] });
    expect(result.record).toBe(result.passed.at(-1));
    expect(rolloutOutcome(result.record.state)).toBe("success");
    expect(result.described).toEqual(cleanup);
    expect(result.requeueAfterMs).toBe(0);
  });

  it.each([
    { name: "health check still starting", at: () => record(into.healthCheck), images: undefined, views: () => [view(PREVIOUS, 0), starting(TARGET, 0)], actions: [] as string[], requeueAfterMs: POLL_MS },
    { name: "image absent (IfNotPresent)", at: () => record(into.building), images: [] as string[], views: () => [], actions: ["pull web:2 (image not present)"], requeueAfterMs: 0 },
  ])("a stay ($name): nothing passed, the record is the one given", ({ at, images, views, actions, requeueAfterMs }) => {
    const given = at();
    const result = pass(given, TARGET, PREVIOUS, world(views(), { now: T0 + 1, images }));
    expect(result.passed).toEqual([]);
    expect(result.record).toBe(given);
    expect(result.described).toEqual(actions);
    expect(result.requeueAfterMs).toBe(requeueAfterMs);
  });

  it("a failure needing no action goes on into the rollback's restore", () => {
    const sick = view(TARGET, 0, { ready: false, unhealthy: true });
    const result = pass(record(into.healthCheck), TARGET, PREVIOUS, world([view(PREVIOUS, 0), sick], { now: T0 + 1, outputs: { [sick.id]: "HTTP 500" } }));
    expect(result.states).toEqual(["rollingBack", "verifyingRollback"]);
    expect(result.passed[0]!.context.failure).toBe(`container ${nameOf(TARGET, 0)} is unhealthy; health check ${CHECK} last said: HTTP 500`);
    expect(result.described).toEqual([`remove ${nameOf(TARGET, 0)} (rolled back)`]);
    expect(result.requeueAfterMs).toBe(POLL_MS);
  });

  it("a final state ends the pass: a failure without a previous revision stops at stalled", () => {
    const result = pass(record(into.healthCheck, TARGET, { previous: undefined }), TARGET, undefined, world([starting(TARGET, 0)], { now: T0 + TIMEOUT_MS }));
    expect(result.states).toEqual(["stalled"]);
    expect(result.actions).toEqual([]);
    expect(result.requeueAfterMs).toBe(0);
  });

  it.each([
    { name: "with a health check: the health poll", target: TARGET, pollMs: POLL_MS, want: POLL_MS },
    { name: "with a health check, default poll", target: TARGET, pollMs: "default" as const, want: HEALTH_POLL_MS },
    { name: "without a health check: soon", target: PLAIN, pollMs: POLL_MS, want: 100 },
    { name: "without a health check, default poll: soon", target: PLAIN, pollMs: "default" as const, want: 100 },
    { name: "without a health check, a poll shorter than that: the poll", target: PLAIN, pollMs: 50, want: 50 },
  ])("after a deploy step, looked at again $name", ({ target, pollMs, want }) => {
    const result = pass(record(into.building, target, { previous: undefined }), target, undefined, world([], { images: [target.image.ref] }), pollMs);
    expect(result.states).toEqual(["deploying", "healthCheck"]);
    expect(result.described).toEqual([`create ${nameOf(target, 0)} (new revision)`]);
    expect(result.requeueAfterMs).toBe(want);
    if (!target.healthCheck) expect(result.requeueAfterMs).toBeLessThanOrEqual(100);
  });

  it("without a health check, the next pass finds the started container ready and completes", () => {
    const at = record([{ type: "IMAGE_READY" }, { type: "STEPPED", done: false, waiting: [0], now: T0 }], PLAIN, { previous: undefined });
    const result = pass(at, PLAIN, undefined, world([view(PLAIN, 0)], { images: [PLAIN.image.ref] }));
    expect(result.states).toEqual(["deploying", "completing", "complete"]);
    expect(result.actions).toEqual([]);
  });

  it("leaves the record given untouched", () => {
    const given = record(into.healthCheck);
    const before = JSON.stringify(given);
    pass(given, TARGET, PREVIOUS, world([stopped(PREVIOUS, 0), view(TARGET, 0)]));
    expect(JSON.stringify(given)).toBe(before);
  });
});

describe("supersedeRollout", () => {
  const NEWER = "c".repeat(64);

  it.each(["building", "deploying", "healthCheck", "rollingBack", "verifyingRollback"] as const)("%s -> superseded, phase Failed, the newer revision named", (from) => {
    const next = supersedeRollout(record(into[from]), NEWER);
    expect(next.state).toBe("superseded");
    expect(next.context).toMatchObject({ phase: "Failed", failure: `superseded by revision ${NEWER.slice(0, 12)}` });
    expect(rolloutOutcome(next.state)).toBe("failed");
  });

  it("says why when the reason is not a revision", () => {
    expect(supersedeRollout(record(into.healthCheck), "the environment was suspended").context.failure).toBe("superseded: the environment was suspended");
  });

  it.each([
    { name: "completing", events: into.completing },
    { name: "complete", events: [...into.completing, { type: "CLEANED" }] },
    { name: "rolledBack", events: [...into.verifyingRollback, { type: "ROLLED_BACK" }] },
    { name: "rollbackFailed", events: [...into.rollingBack, { type: "ROLLBACK_FAILED", error: "port 8080 already allocated" }] },
    { name: "superseded", events: [{ type: "SUPERSEDE", by: "d".repeat(64) }] },
  ] satisfies { name: string; events: RolloutEvent[] }[])("$name is left as it is", ({ name, events }) => {
    const at = record(events);
    expect(at.state).toBe(name);
    expect(supersedeRollout(at, NEWER)).toBe(at);
  });

  it("stalled is left as it is", () => {
    const at = record([{ type: "FAILED", failure: "build failed" }], TARGET, { previous: undefined });
    expect(at.state).toBe("stalled");
    expect(supersedeRollout(at, NEWER)).toBe(at);
  });
});
