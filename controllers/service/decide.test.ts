import { describe, expect, it } from "vitest";
import type { ContainerHealth, ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import { desiredAtRevision, revisionSpecOf } from "../../src/desired/revision.ts";
import type { PlanChange } from "../../src/engine/plan-change.ts";
import { observedContainer } from "../../test/support/containers.ts";
import type { Spec } from "../../test/support/shop.ts";
import { shopService, shopServices } from "../../test/support/shop-services.ts";
import { decideUnrecorded } from "./decide-unrecorded.ts";
import { decideService, type RecordWrites, type ServiceDecision, type ServiceRecords, type ServiceWorld } from "./decide.ts";
import { NEW_DEPLOYMENT } from "./decision.ts";
import { servicePhase } from "./phase.ts";
import type { Pin } from "./pins.ts";
import type { ServiceAction } from "./plan.ts";
import { advanceRollout, startRollout, type RolloutEvent, type RolloutInput, type RolloutRecord, type RolloutState } from "./rollout-machine.ts";

// ---------------------------------------------------------------------------
// Fixtures: Service web of project shop in Environment dev on target local,
// built by the real loader and model. WEB1 -> WEB2 -> WEB3 differ only in their
// image; all three have the same http health check. Containers are named as
// Berth names them: shop-dev-web-<slot>-<first 7 hex of the revision>.
// ---------------------------------------------------------------------------

const KEY = "Service/dev/web";
const NETWORK = "shop-dev";
const T0 = 1_700_000_000_000;
const HEALTH = { http: { path: "/healthz", port: 8080 } };
const UNSET = "e".repeat(64);

const web = (spec: Spec, environment: Spec = {}) => shopService({ services: { web: spec }, environments: { dev: environment } }, "dev/web");

const WEB1 = await web({ image: "web:1", healthCheck: HEALTH });
const WEB2 = await web({ image: "web:2", healthCheck: HEALTH });
const WEB3 = await web({ image: "web:3", healthCheck: HEALTH });
/** WEB1 scaled to three replicas: the same revision. */
const WEB1_X3 = await web({ image: "web:1", replicas: 3, healthCheck: HEALTH });
/** web:2 that Berth may not pull. */
const NEVER = await web({ image: "web:2", imagePullPolicy: "Never", healthCheck: HEALTH });
/** web:2 with the environment's volume shop-dev-data. */
const WITH_VOLUME = await web({ image: "web:2", volumes: [{ type: "volume", source: "data", target: "/data" }] });
/** web:2 publishing host port 8088 (a fixed host port makes the strategy recreate). */
const PORTED = await web({ image: "web:2", ports: [{ container: 8080, host: 8088 }] });
/** web:1 judged by another check than WEB2's. */
const OLD_CHECK = await web({ image: "web:1", healthCheck: { http: { path: "/old", port: 8081 } } });
/** A spec that cannot be deployed: its env file does not exist. */
const BROKEN = (await shopServices({ services: { web: { image: "web:2", env: [{ name: "TOKEN", valueFrom: { envFile: "missing.env" } }] } } })).get("dev/web")!;
/** WEB2 in a suspended environment. */
const SUSPENDED = await web({ image: "web:2", healthCheck: HEALTH }, { suspend: true });
/** api waits for db to be healthy; db is judged by Berth's tcp probe. */
const DEPS = await shopServices({ services: { db: { image: "db:1", healthCheck: { tcp: { port: 5432 } } }, api: { image: "api:1", dependsOn: [{ service: "db", condition: "service_healthy" }] } } });
const DB = DEPS.get("dev/db")!;
const API = DEPS.get("dev/api")!;

const h12 = (s: DesiredService | string) => (typeof s === "string" ? s : s.specHash).slice(0, 12);
/** The service at an older revision, as the store gives it back (loadServiceRecords). */
const stored = (current: DesiredService, old: DesiredService) => desiredAtRevision(current, revisionSpecOf(old));
const atOf = (current: DesiredService, ...old: DesiredService[]) => new Map(old.map((o) => [o.specHash, stored(current, o)]));

/** A running container of `service` in `slot`; later calls are newer. */
const running = (service: DesiredService, slot = 0, overrides: Partial<ObservedContainer> = {}) => observedContainer(slot, service.specHash, overrides);
const exited = (service: DesiredService, slot = 0) => running(service, slot, { state: "exited", exitCode: 0 });
/** A container of another service. */
function other(service: string, specHash: string, overrides: Partial<ObservedContainer> = {}): ObservedContainer {
  return observedContainer(0, specHash, { id: `id-${service}-${specHash.slice(0, 4)}`, name: `shop-dev-${service}-0-${specHash.slice(0, 7)}`, service, ...overrides });
}
const probedAs = (health: ContainerHealth, ...containers: ObservedContainer[]) => Object.fromEntries(containers.map((c) => [c.id, health]));

function world(overrides: Partial<ServiceWorld> = {}): ServiceWorld {
  return { now: T0, containers: [], portHolders: [], networks: [NETWORK], volumes: [], images: {}, probed: {}, checkOutput: {}, declared: new Set(["dev/web"]), ...overrides };
}

function records(overrides: Partial<ServiceRecords> = {}): ServiceRecords {
  return { hasHistory: false, at: new Map(), peers: new Map(), ...overrides };
}

/** The record a pass that started it would have written, after the given events. */
function rollout(target: DesiredService, events: RolloutEvent[], overrides: Partial<RolloutInput> = {}): RolloutRecord {
  const input: RolloutInput = { key: KEY, revision: target.specHash, manifestRevision: target.specHash, previous: WEB1.specHash, autoRollback: true, healthTimeoutMs: 30_000, trigger: "manifest", deploymentId: 7, startedAt: T0, ...overrides };
  return events.reduce(advanceRollout, startRollout(input));
}

const UNHEALTHY = "container shop-dev-web-0-xxxxxxx is unhealthy";
/** Events into each state: one step taken at T0 (deadline T0 + 30 s) waiting on slot 0. */
const into = {
  deploying: [{ type: "IMAGE_READY" }],
  healthCheck: [{ type: "IMAGE_READY" }, { type: "STEPPED", done: false, waiting: [0], now: T0 }],
  completing: [{ type: "IMAGE_READY" }, { type: "STEPPED", done: true, waiting: [], now: T0 }],
  rollingBack: [{ type: "IMAGE_READY" }, { type: "STEPPED", done: false, waiting: [0], now: T0 }, { type: "FAILED", failure: UNHEALTHY }],
  verifyingRollback: [{ type: "IMAGE_READY" }, { type: "STEPPED", done: false, waiting: [0], now: T0 }, { type: "FAILED", failure: UNHEALTHY }, { type: "RESTORED", now: T0 }],
} satisfies Record<string, RolloutEvent[]>;

const pin = (overrides: Partial<Pin> & Pick<Pin, "manifestRevision" | "runRevision">): Pin => ({ service: KEY, reason: `rolled back: ${UNHEALTHY}`, since: T0 - 60_000, ...overrides });

/** The begin write a pass makes to roll `desired` out. */
function beginOf(manifest: DesiredService, desired: DesiredService, previous: string | undefined, trigger: "manifest" | "rollback" | "retry"): NonNullable<RecordWrites["begin"]> {
  return { key: KEY, revision: desired.specHash, manifestRevision: manifest.specHash, previous, autoRollback: true, healthTimeoutMs: 120_000, trigger, startedAt: T0, image: desired.image.ref, spec: revisionSpecOf(desired) };
}

const probeOf = (d: ServiceDecision) => {
  const probes = d.actions.filter((a): a is Extract<ServiceAction, { type: "probe" }> => a.type === "probe");
  expect(probes).toHaveLength(1);
  return probes[0]!;
};
/** Actions other than the probe, as `type target (reason)`. */
const steps = (d: ServiceDecision) => d.actions.filter((a) => a.type !== "probe").map((a) => ("name" in a ? `${a.type} ${a.name} (${a.reason})` : `${a.type} ${"ref" in a ? a.ref : ""} (${a.reason})`));
const decide = (manifest: DesiredService | undefined, w: ServiceWorld, r: ServiceRecords) => decideService(KEY, manifest, w, r, { pollMs: 250 });
const writtenKeys = (writes: RecordWrites) => Object.keys(writes).sort();

describe("fixtures", () => {
  it("differ where the tables rely on it", () => {
    expect(new Set([WEB1.specHash, WEB2.specHash, WEB3.specHash, OLD_CHECK.specHash, PORTED.specHash]).size).toBe(5);
    expect(WEB1_X3.specHash).toBe(WEB1.specHash);
    expect(SUSPENDED.specHash).toBe(WEB2.specHash);
    expect(SUSPENDED.suspended).toBe(true);
    expect(PORTED.strategy).toBe("recreate");
    expect(WEB2.strategy).toBe("rolling");
    expect(BROKEN.error).toMatch(/env file .*missing\.env cannot be read/);
    expect(WEB2.template.HostConfig?.NetworkMode).toBe(NETWORK);
  });
});

describe("decideService: the service left the manifests", () => {
  const inFlight = rollout(WEB2, into.healthCheck);
  it.each([
    { name: "nothing on record -> nothing written", r: records(), keys: [] as string[] },
    { name: "a pin -> cleared", r: records({ pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash }) }), keys: ["pin"] },
    { name: "a rollout in flight -> superseded and ended", r: records({ rollout: inFlight }), keys: ["ended", "finish", "passed", "rollout"] },
    { name: "a pin and a rollout in flight -> both end", r: records({ rollout: inFlight, pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash }) }), keys: ["ended", "finish", "passed", "pin", "rollout"] },
  ])("$name", ({ r, keys }) => {
    const d = decide(undefined, world({ containers: [running(WEB2)] }), r);
    expect(writtenKeys(d.writes)).toEqual(keys);
    if (keys.includes("pin")) expect(d.writes.pin).toBeNull();
    if (keys.includes("rollout")) {
      expect(d.writes.rollout).toBeNull();
      expect(d.writes.ended).toMatchObject({ state: "superseded", context: { revision: WEB2.specHash, failure: "superseded: the service was removed from the manifests" } });
      expect(d.writes.finish).toEqual({ deploymentId: 7, status: "failed", error: "superseded: the service was removed from the manifests", healthCheckPassed: undefined });
      // Its end is reported (an event, the deployments counter).
      expect(d.writes.passed).toEqual([d.writes.ended]);
    }
    // Probes stop: the probe action has no containers.
    expect(d.actions).toEqual([{ type: "probe", checks: new Map(), network: "", containers: [] }]);
    expect(d.facts).toEqual({ desired: 0, running: 0, ready: 0, converged: true, message: "not declared" });
    expect(d.change).toBeUndefined();
    expect(d.error).toBeUndefined();
  });

  // It had succeeded: it ends as a success, and the environment prunes the containers.
  it("a rollout in its clean-up step also ends (its record goes, its row is finished)", () => {
    const d = decide(undefined, world(), records({ rollout: rollout(WEB2, into.completing) }));
    expect(d.writes.rollout).toBeNull();
    expect(d.writes.finish).toMatchObject({ deploymentId: 7, status: "success" });
  });
});

describe("decideService: a spec that cannot be deployed", () => {
  it.each([
    { name: "nothing on record", r: records() },
    { name: "with a pin and history (left as they are)", r: records({ pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash }), deployed: WEB1.specHash, hasHistory: true }) },
  ])("$name -> terminal error, not retried, no actions", ({ r }) => {
    const d = decide(BROKEN, world({ containers: [running(WEB1)] }), r);
    expect(d).toEqual({ actions: [], writes: {}, facts: { desired: 0, running: 0, ready: 0, converged: false, message: BROKEN.error }, error: { message: BROKEN.error, terminal: true, retry: false } });
    expect(servicePhase(d.facts, d.error?.message)).toBe("Failed");
  });
});

describe("decideService: a rollout begins", () => {
  const c1 = running(WEB1);
  const c2 = running(WEB2);
  const rollingChange = (fields: string[]): PlanChange => ({ resource: KEY, action: "rollout", strategy: "rolling", reason: "rolling update, 1 replica, maxSurge 1, maxUnavailable 0", fields });
  const createChange: PlanChange = { resource: KEY, action: "create", strategy: "rolling", reason: "new service: rolling update, 1 replica, maxSurge 1, maxUnavailable 0", fields: [] };
  const nameOf = (s: DesiredService, slot = 0) => `shop-dev-web-${slot}-${s.specHash.slice(0, 7)}`;
  /** How the pass that begins the rollout ends: the last record's state, every state it passed, the actions and the facts' message and requeue. */
  type Outcome = { state: RolloutState; passed: RolloutState[]; steps: string[]; message: string; requeueAfterMs: number };
  interface BeginCase extends Outcome {
    name: string;
    manifest: DesiredService;
    w: ServiceWorld;
    r: ServiceRecords;
    begin: NonNullable<RecordWrites["begin"]>;
    change: PlanChange | undefined;
    pinCleared?: boolean;
  }
  /** The image is there: the pass goes on through deploying and creates the new revision, then waits for its health check. */
  const created = (s: DesiredService, reason: "new revision" | "new revision beside the old one"): Outcome => ({
    state: "healthCheck",
    passed: ["building", "deploying", "healthCheck"],
    steps: [`create ${nameOf(s)} (${reason})`],
    message: `rollout of revision ${h12(s)}: HealthCheck, waiting for slot(s) 0`,
    requeueAfterMs: 250,
  });
  /** The image is not there (IfNotPresent): the record stays in building and the image is pulled. */
  const pulled = (s: DesiredService): Outcome => ({ state: "building", passed: ["building"], steps: [`pull ${s.image.ref} (image not present)`], message: `rollout of revision ${h12(s)}: Building`, requeueAfterMs: 0 });
  it.each<BeginCase>([
    {
      name: "first deploy: no containers, no history",
      manifest: WEB2,
      w: world({ images: { "web:2": true } }),
      r: records(),
      begin: beginOf(WEB2, WEB2, undefined, "manifest"),
      change: createChange,
      ...created(WEB2, "new revision"),
    },
    {
      name: "first deploy, image not there yet (IfNotPresent: the rollout pulls it)",
      manifest: WEB2,
      w: world({ images: { "web:2": false } }),
      r: records(),
      begin: beginOf(WEB2, WEB2, undefined, "manifest"),
      change: createChange,
      ...pulled(WEB2),
    },
    {
      name: "first deploy under Never with the image loaded",
      manifest: NEVER,
      w: world({ images: { "web:2": true } }),
      r: records(),
      begin: beginOf(NEVER, NEVER, undefined, "manifest"),
      change: createChange,
      ...created(NEVER, "new revision"),
    },
    {
      name: "image changed over the deployed revision's running containers",
      manifest: WEB2,
      w: world({ containers: [c1], probed: probedAs("healthy", c1), images: { "web:2": true } }),
      r: records({ deployed: WEB1.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB1), at: atOf(WEB2, WEB1) }),
      begin: beginOf(WEB2, WEB2, WEB1.specHash, "manifest"),
      change: rollingChange(["spec.image"]),
      ...created(WEB2, "new revision beside the old one"),
    },
    {
      name: "image changed while no container is left: still a rollout, not a create",
      manifest: WEB2,
      w: world({ images: { "web:2": true } }),
      r: records({ deployed: WEB1.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB1), at: atOf(WEB2, WEB1) }),
      begin: beginOf(WEB2, WEB2, WEB1.specHash, "manifest"),
      change: rollingChange(["spec.image"]),
      ...created(WEB2, "new revision"),
    },
    {
      name: "image changed, the deployed revision's spec not stored -> fields name the whole spec",
      manifest: WEB2,
      w: world({ containers: [c1], probed: probedAs("healthy", c1), images: { "web:2": false } }),
      r: records({ deployed: WEB1.specHash, hasHistory: true, at: atOf(WEB2, WEB1) }),
      begin: beginOf(WEB2, WEB2, WEB1.specHash, "manifest"),
      change: rollingChange(["spec"]),
      ...pulled(WEB2),
    },
    {
      name: "containers from before Berth recorded rollouts: the revision most of them run is the previous one",
      manifest: WEB2,
      w: world({ containers: [c1], probed: probedAs("healthy", c1), images: { "web:2": true } }),
      r: records(),
      begin: beginOf(WEB2, WEB2, WEB1.specHash, "manifest"),
      change: rollingChange(["spec"]),
      ...created(WEB2, "new revision beside the old one"),
    },
    {
      // Nothing to deploy or clean up: the rollout is begun and completed in the same pass, its row finished as a success.
      name: "containers already on the manifest revision, no history (new database): recorded only, nothing to plan",
      manifest: WEB2,
      w: world({ containers: [c2], probed: probedAs("healthy", c2), images: { "web:2": true } }),
      r: records(),
      begin: beginOf(WEB2, WEB2, undefined, "manifest"),
      change: undefined,
      state: "complete",
      passed: ["building", "deploying", "completing", "complete"],
      steps: [],
      message: `revision ${h12(WEB2)} rolled out`,
      requeueAfterMs: 0,
    },
    {
      name: "a pin set against an older manifest revision is cleared and the manifest rolled out",
      manifest: WEB3,
      w: world({ containers: [c1], probed: probedAs("healthy", c1), images: { "web:3": true } }),
      r: records({ pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash }), deployed: WEB1.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB1), at: atOf(WEB3, WEB1) }),
      begin: beginOf(WEB3, WEB3, WEB1.specHash, "manifest"),
      change: rollingChange(["spec.image"]),
      pinCleared: true,
      ...created(WEB3, "new revision beside the old one"),
    },
    {
      name: "a retry pin rolls the manifest revision out again",
      manifest: WEB2,
      w: world({ containers: [c1], probed: probedAs("healthy", c1), images: { "web:2": false } }),
      r: records({ pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB2.specHash, reason: "retry" }), deployed: WEB1.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB1), at: atOf(WEB2, WEB1) }),
      begin: beginOf(WEB2, WEB2, WEB1.specHash, "retry"),
      change: rollingChange(["spec.image"]),
      ...pulled(WEB2),
    },
    {
      name: "an operator's rollback pin rolls the pinned revision out",
      manifest: WEB2,
      w: world({ containers: [c2], probed: probedAs("healthy", c2), images: { "web:1": true } }),
      r: records({ pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash, reason: "rollback requested" }), deployed: WEB2.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB2), at: atOf(WEB2, WEB1) }),
      begin: { ...beginOf(WEB2, WEB1, WEB2.specHash, "rollback"), spec: revisionSpecOf(WEB1) },
      change: rollingChange(["spec.image"]),
      ...created(WEB1, "new revision beside the old one"),
    },
  ])("$name", ({ manifest, w, r, begin, change, pinCleared, state, passed: through, steps: want, message, requeueAfterMs }) => {
    const d = decide(manifest, w, r);
    const complete = state === "complete";
    expect(d.writes.begin).toEqual(begin);
    expect(writtenKeys(d.writes)).toEqual(complete ? ["begin", "ended", "finish", "passed", "pin", "rollout"] : pinCleared ? ["begin", "passed", "pin", "rollout"] : ["begin", "passed", "rollout"]);
    if (pinCleared || complete) expect(d.writes.pin).toBeNull();
    expect(d.change).toEqual(change);
    expect(d.error).toBeUndefined();

    // Every record the pass moved through, the new rollout's first included, before its deployments row exists.
    const passed = d.writes.passed!;
    expect(passed.map((x) => x.state)).toEqual(through);
    const { image: _image, spec: _spec, ...input } = begin;
    expect(passed[0]).toEqual(startRollout({ ...input, deploymentId: NEW_DEPLOYMENT }));
    for (const x of passed) expect(x.context).toMatchObject({ deploymentId: NEW_DEPLOYMENT, revision: begin.revision, manifestRevision: begin.manifestRevision, previous: begin.previous, trigger: begin.trigger });

    if (complete) {
      expect(d.writes.rollout).toBeNull();
      expect(d.writes.ended).toBe(passed.at(-1));
      expect(d.writes.ended).toMatchObject({ state: "complete", context: { phase: "Complete", steps: 1, waiting: [] } });
      expect(d.writes.finish).toEqual({ deploymentId: NEW_DEPLOYMENT, status: "success", error: undefined, healthCheckPassed: true });
    } else {
      expect(d.writes.rollout).toBe(passed.at(-1));
      expect(d.writes.rollout?.state).toBe(state);
      expect(d.writes.rollout?.context.deploymentId).toBe(NEW_DEPLOYMENT);
      // A step taken at T0 waits for the health check until the begin's timeout.
      if (state === "healthCheck") expect(d.writes.rollout?.context).toMatchObject({ phase: "HealthCheck", steps: 1, waiting: [0], deadline: T0 + 120_000 });
      else expect(d.writes.rollout?.context).toMatchObject({ phase: "Building", steps: 0, waiting: [] });
      expect(d.writes.ended).toBeUndefined();
      expect(d.writes.finish).toBeUndefined();
    }
    // The record is written before any action, so the pass acts at once: a pull, or the new revision's create.
    expect(steps(d)).toEqual(want);
    for (const a of d.actions) if (a.type === "create") expect(a).toMatchObject({ slot: 0, revision: begin.revision });
    expect(d.actions.at(-1)?.type).toBe("probe");
    expect(d.facts).toEqual({ desired: 1, running: 0, ready: 0, converged: false, rolling: true, message, requeueAfterMs });
    expect(servicePhase(d.facts, d.error?.message)).toBe("Updating");
  });

  // A repair, not a manifest change; and the revision that runs is the one to go back to.
  it("a slot still running another revision than the deployed one: the plan names no changed field", () => {
    const c1 = running(WEB1);
    const d = decide(WEB2, world({ containers: [c1], probed: probedAs("healthy", c1) }), records({ deployed: WEB2.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB2), at: atOf(WEB2, WEB1) }));
    expect(d.writes.begin?.revision).toBe(WEB2.specHash);
    expect(d.writes.begin?.previous).toBe(WEB1.specHash);
    expect(d.change?.fields).toEqual([]);
  });

  // The rollout that retired it succeeded: the old container in its stop grace is not another revision running.
  it("an old revision's container retiring in the background after a success: no new rollout, nothing to do", () => {
    const fresh = running(WEB2);
    const leaving = running(WEB1, 0, { networks: [], retiring: true });
    const d = decide(WEB2, world({ containers: [fresh, leaving], probed: probedAs("healthy", fresh) }), records({ deployed: WEB2.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB2), at: atOf(WEB2, WEB1) }));
    expect(d.writes).toEqual({});
    expect(d.actions.map((a) => a.type)).toEqual(["probe"]);
    expect(d.facts.converged).toBe(true);
  });
});

describe("decideService: nothing can begin yet", () => {
  const createChange: PlanChange = { resource: KEY, action: "create", strategy: "rolling", reason: "new service: rolling update, 1 replica, maxSurge 1, maxUnavailable 0", fields: [] };
  // A service writing a named volume is replaced by recreate unless it asks otherwise (never two writers).
  const recreateChange: PlanChange = { ...createChange, strategy: "recreate", reason: "new service: recreate, 1 replica" };
  it.each([
    { name: "the environment's network is missing", manifest: WEB2, w: world({ networks: [], images: { "web:2": true } }), change: createChange },
    { name: "the environment's volume is missing", manifest: WITH_VOLUME, w: world({ volumes: [], images: { "web:2": true } }), change: recreateChange },
  ])("$name -> no begin, waits for the environment, plan still shows the create", ({ manifest, w, change }) => {
    const d = decide(manifest, w, records());
    expect(d.writes).toEqual({});
    expect(d.actions).toEqual([{ type: "probe", checks: new Map(), network: NETWORK, containers: [] }]);
    expect(d.facts).toEqual({ desired: 1, running: 0, ready: 0, converged: false, message: "waiting for the environment's network and volumes", requeueAfterMs: 1_000 });
    expect(d.change).toEqual(change);
    expect(d.error).toBeUndefined();
  });

  it("the volume present -> the rollout begins (the row above can fail)", () => {
    const d = decide(WITH_VOLUME, world({ volumes: ["shop-dev-data"], images: { "web:2": true } }), records());
    expect(d.writes.begin?.revision).toBe(WITH_VOLUME.specHash);
  });

  it.each([
    { name: "first deploy", w: world({ images: { "web:2": false } }), r: records() },
    { name: "a scale-up of the deployed revision", w: world({ images: { "web:2": false }, containers: [running(NEVER)] }), r: records({ deployed: NEVER.specHash, hasHistory: true }), replicas: 2 },
  ])("image missing under pullPolicy Never, $name -> terminal error, retried, no begin", ({ w, r, replicas }) => {
    const manifest = replicas ? { ...NEVER, replicas } : NEVER;
    const d = decide(manifest, w, r);
    const message = "image web:2 is not on DeploymentTarget/local and imagePullPolicy is Never; expected it built or loaded there first, e.g. npm run demo:images";
    expect(d.writes).toEqual({});
    expect(steps(d)).toEqual([]);
    expect(d.error).toEqual({ message, terminal: true, retry: true });
    expect(d.facts).toMatchObject({ converged: false, message });
    expect(d.facts.rolling).toBeUndefined();
    expect(servicePhase(d.facts, d.error?.message)).toBe("Failed");
  });
});

describe("decideService: steady state", () => {
  const steadyRecords = records({ deployed: WEB1.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB1) });
  const [a, b, c] = [running(WEB1, 0), running(WEB1, 1), running(WEB1, 2)];
  const name = (slot: number) => `shop-dev-web-${slot}-${WEB1.specHash.slice(0, 7)}`;
  it.each([
    {
      name: "scale up 1 -> 3",
      manifest: WEB1_X3,
      w: world({ containers: [a], probed: probedAs("healthy", a), images: { "web:1": true } }),
      steps: [`create ${name(1)} (missing replica)`, `create ${name(2)} (missing replica)`],
      facts: { desired: 3, running: 1, ready: 1, converged: false, message: "1/3 running, 1 ready", requeueAfterMs: 200, changed: true },
      change: { resource: KEY, action: "scale", strategy: null, reason: "scale up to 3 (missing replica)", fields: ["spec.replicas"] },
    },
    {
      name: "scale up 1 -> 3 with the image gone: pulled first",
      manifest: WEB1_X3,
      w: world({ containers: [a], probed: probedAs("healthy", a), images: { "web:1": false } }),
      steps: ["pull web:1 (image not present)", `create ${name(1)} (missing replica)`, `create ${name(2)} (missing replica)`],
      facts: { desired: 3, running: 1, ready: 1, converged: false, message: "1/3 running, 1 ready", requeueAfterMs: 200, changed: true },
      change: { resource: KEY, action: "scale", strategy: null, reason: "scale up to 3 (image not present; missing replica)", fields: ["spec.replicas"] },
    },
    {
      name: "scale down 3 -> 1: the newest go first",
      manifest: WEB1,
      w: world({ containers: [a, b, c], probed: probedAs("healthy", a, b, c) }),
      steps: [`remove ${name(2)} (scaled down)`, `remove ${name(1)} (scaled down)`],
      facts: { desired: 1, running: 1, ready: 1, converged: false, message: "1/1 running, 1 ready", requeueAfterMs: 200, changed: true },
      change: { resource: KEY, action: "scale", strategy: null, reason: "scale down to 1 (scaled down)", fields: ["spec.replicas"] },
    },
    {
      name: "nothing to do",
      manifest: WEB1,
      w: world({ containers: [a], probed: probedAs("healthy", a) }),
      steps: [],
      facts: { desired: 1, running: 1, ready: 1, converged: true, message: "1/1 running, 1 ready", changed: false },
      change: undefined,
    },
    {
      name: "nothing to do, but the health check has not passed yet: looked at again soon",
      manifest: WEB1,
      w: world({ containers: [a], probed: probedAs("starting", a) }),
      steps: [],
      facts: { desired: 1, running: 1, ready: 0, converged: true, message: "1/1 running, 0 ready", requeueAfterMs: 1_000, changed: false },
      change: undefined,
    },
  ])("$name", ({ manifest, w, steps: want, facts, change }) => {
    const d = decide(manifest, w, steadyRecords);
    expect(steps(d)).toEqual(want);
    expect(d.actions.at(-1)?.type).toBe("probe");
    expect(d.writes).toEqual({});
    expect(d.facts).toEqual(facts);
    expect(d.change).toEqual(change);
    expect(d.error).toBeUndefined();
  });

  it("scale-up creates carry the slot and the revision", () => {
    const d = decide(WEB1_X3, world({ containers: [a], probed: probedAs("healthy", a), images: { "web:1": true } }), steadyRecords);
    expect(d.actions.filter((x) => x.type === "create")).toEqual([
      { type: "create", slot: 1, name: name(1), revision: WEB1.specHash, reason: "missing replica" },
      { type: "create", slot: 2, name: name(2), revision: WEB1.specHash, reason: "missing replica" },
    ]);
  });
});

describe("decideService: pins", () => {
  const old = running(WEB1);
  const failed = running(WEB2);
  it.each([
    {
      name: "a rolled-back revision is held while the manifest asks for the one that failed",
      p: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash }),
      containers: [old],
      probed: probedAs("healthy", old),
      held: `rolled back: ${UNHEALTHY}; runs revision ${h12(WEB1)} until the container spec in the manifests changes or berth rollout retry`,
      facts: { desired: 1, running: 1, ready: 1, converged: true, message: "1/1 running, 1 ready", changed: false },
    },
    {
      name: "a failed rollout without a rollback freezes the containers for inspection",
      p: pin({ manifestRevision: WEB2.specHash, runRevision: null, reason: `rollout failed: ${UNHEALTHY}` }),
      containers: [failed],
      probed: probedAs("unhealthy", failed),
      held: `rollout failed: ${UNHEALTHY}; Berth waits for a new revision of the container spec in the manifests or berth rollout retry`,
      facts: { desired: 1, running: 1, ready: 0, converged: true, message: "1/1 running, 0 ready", requeueAfterMs: 1_000 },
    },
    {
      name: "a retry pin whose revision already runs as deployed holds nothing",
      p: pin({ manifestRevision: WEB2.specHash, runRevision: WEB2.specHash, reason: "retry" }),
      containers: [failed],
      probed: probedAs("healthy", failed),
      deployed: WEB2.specHash,
      held: undefined,
      facts: { desired: 1, running: 1, ready: 1, converged: true, message: "1/1 running, 1 ready", changed: false },
    },
  ])("$name -> no rollout, only the probe", ({ p, containers, probed, held, facts, deployed }) => {
    const d = decide(WEB2, world({ containers, probed, images: { "web:1": true, "web:2": true } }), records({ pin: p, deployed: deployed ?? WEB1.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB1), at: atOf(WEB2, WEB1) }));
    expect(d.writes).toEqual({});
    expect(steps(d)).toEqual([]);
    expect(d.facts).toEqual({ ...facts, held });
    expect(d.change).toBeUndefined();
    expect(d.error).toBeUndefined();
    expect(servicePhase(d.facts, d.error?.message)).toBe(facts.ready ? "Running" : "Starting");
  });

  it("a held revision still has its missing replicas created, from its own spec", () => {
    const d = decide(WEB2, world({ images: { "web:1": true } }), records({ pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash }), deployed: WEB1.specHash, hasHistory: true, at: atOf(WEB2, WEB1) }));
    expect(d.writes).toEqual({});
    expect(d.actions.filter((a) => a.type === "create")).toEqual([{ type: "create", slot: 0, name: `shop-dev-web-0-${WEB1.specHash.slice(0, 7)}`, revision: WEB1.specHash, reason: "missing replica" }]);
    expect(d.facts.held).toContain(`runs revision ${h12(WEB1)}`);
  });

  it("a pinned revision whose spec is not stored -> terminal error naming it", () => {
    const d = decide(WEB2, world(), records({ pin: pin({ manifestRevision: WEB2.specHash, runRevision: UNSET }), hasHistory: true }));
    expect(d.actions).toEqual([]);
    expect(d.error).toEqual({ message: `revision ${h12(UNSET)} of ${KEY} was never rolled out by Berth, so its spec is unknown; expected a revision from berth history`, terminal: true, retry: false });
  });
});

describe("decideService: a rollout in flight", () => {
  it.each([
    { name: "the manifest moved on", manifest: WEB3, r: { pin: undefined }, failure: `superseded by revision ${h12(WEB3)}`, keys: ["ended", "finish", "passed", "rollout"] },
    {
      name: "the manifest moved on past a pin (cleared too)",
      manifest: WEB3,
      r: { pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash }) },
      failure: `superseded by revision ${h12(WEB3)}`,
      keys: ["ended", "finish", "passed", "pin", "rollout"],
    },
    { name: "an operator's rollback pin asks for another revision", manifest: WEB2, r: { pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash, reason: "rollback requested" }) }, failure: `superseded by revision ${h12(WEB1)}`, keys: ["ended", "finish", "passed", "rollout"] },
    { name: "the environment was suspended", manifest: SUSPENDED, r: { pin: undefined }, failure: "superseded: the environment was suspended", keys: ["ended", "finish", "passed", "rollout"] },
  ])("superseded: $name", ({ manifest, r, failure, keys }) => {
    const record = rollout(WEB2, into.healthCheck);
    const c = running(WEB2);
    const d = decide(manifest, world({ containers: [c] }), records({ ...r, rollout: record, deployed: WEB1.specHash, hasHistory: true, at: atOf(manifest, WEB1, WEB2) }));
    expect(writtenKeys(d.writes)).toEqual(keys);
    expect(d.writes.rollout).toBeNull();
    if (keys.includes("pin")) expect(d.writes.pin).toBeNull();
    expect(d.writes.ended).toMatchObject({ state: "superseded", context: { deploymentId: 7, revision: WEB2.specHash, failure } });
    // The superseding is the one move of the pass: its event.
    expect(d.writes.passed).toHaveLength(1);
    expect(d.writes.passed![0]).toBe(d.writes.ended);
    expect(d.writes.finish).toEqual({ deploymentId: 7, status: "failed", error: failure, healthCheckPassed: undefined });
    expect(d.writes.begin).toBeUndefined();
    expect(d.actions.map((a) => a.type)).toEqual(["probe"]);
    expect(d.facts).toMatchObject({ rolling: true, message: `rollout of revision ${h12(WEB2)} superseded`, requeueAfterMs: 0 });
    expect(d.change).toEqual({ resource: KEY, action: "rollout", strategy: manifest.strategy, reason: `supersede the rollout of ${h12(WEB2)}`, fields: [] });
    expect(d.error).toBeUndefined();
  });

  it("a rollback pin's own rollout is not superseded by the manifest revision", () => {
    const record = rollout(WEB1, into.healthCheck, { manifestRevision: WEB2.specHash, previous: WEB2.specHash, trigger: "rollback" });
    const c = running(WEB1);
    const d = decide(WEB2, world({ containers: [c], probed: probedAs("starting", c) }), records({ rollout: record, pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash, reason: "rollback requested" }), deployed: WEB2.specHash, hasHistory: true, at: atOf(WEB2, WEB1) }));
    expect(d.writes).toEqual({ rollout: record, passed: [] });
    expect(d.writes.rollout).toBe(record);
    expect(d.facts).toMatchObject({ rolling: true, message: `rollout of revision ${h12(WEB1)}: HealthCheck, waiting for slot(s) 0` });
  });

  it("health check still starting -> the record stays, looked at again after pollMs", () => {
    const record = rollout(WEB2, into.healthCheck);
    const [old, fresh] = [running(WEB1), running(WEB2)];
    const d = decide(WEB2, world({ containers: [old, fresh], probed: { ...probedAs("healthy", old), ...probedAs("starting", fresh) } }), records({ rollout: record, deployed: WEB1.specHash, hasHistory: true, at: atOf(WEB2, WEB1) }));
    // The record did not move: it is written as it is, and no event is reported.
    expect(d.writes).toEqual({ rollout: record, passed: [] });
    expect(d.writes.rollout).toBe(record);
    expect(steps(d)).toEqual([]);
    expect(d.facts).toEqual({ desired: 1, running: 0, ready: 0, converged: false, rolling: true, message: `rollout of revision ${h12(WEB2)}: HealthCheck, waiting for slot(s) 0`, requeueAfterMs: 250 });
    expect(d.change).toMatchObject({ action: "rollout", strategy: "rolling", reason: "rolling update, 1 replica, maxSurge 1, maxUnavailable 0: HealthCheck, waiting for slot(s) 0" });
  });

  it("the new revision turns unhealthy with a previous one -> rolling back in the same pass, not final", () => {
    const record = rollout(WEB2, into.healthCheck);
    const [old, fresh] = [running(WEB1), running(WEB2)];
    const d = decide(WEB2, world({ containers: [old, fresh], probed: { ...probedAs("healthy", old), ...probedAs("unhealthy", fresh) }, checkOutput: { [fresh.id]: "HTTP 500" } }), records({ rollout: record, deployed: WEB1.specHash, hasHistory: true, at: atOf(WEB2, WEB1) }));
    const failure = `container ${fresh.name} is unhealthy; health check http GET :8080/healthz last said: HTTP 500`;
    expect(writtenKeys(d.writes)).toEqual(["passed", "rollout"]);
    // The failure needs no action: the restore step follows at once, removing the new container (the old one still runs).
    expect(d.writes.passed!.map((x) => x.state)).toEqual(["rollingBack", "verifyingRollback"]);
    expect(d.writes.passed![0]).toMatchObject({ state: "rollingBack", context: { phase: "RollingBack", failure, previous: WEB1.specHash } });
    expect(d.writes.rollout).toBe(d.writes.passed!.at(-1));
    expect(d.writes.rollout).toMatchObject({ state: "verifyingRollback", context: { phase: "RollingBack", failure, previous: WEB1.specHash, deploymentId: 7, deadline: T0 + 30_000 } });
    expect(steps(d)).toEqual([`remove ${fresh.name} (rolled back)`]);
    expect(d.writes.finish).toBeUndefined();
    expect(d.facts).toMatchObject({ rolling: true, message: `rollout of revision ${h12(WEB2)}: RollingBack`, requeueAfterMs: 250 });
    expect(d.error).toBeUndefined();
    expect(servicePhase(d.facts, d.error?.message)).toBe("Updating");
  });

  it("a rolling-back step restores the previous revision", () => {
    const record = rollout(WEB2, into.rollingBack);
    const [old, fresh] = [exited(WEB1), running(WEB2)];
    const d = decide(WEB2, world({ containers: [old, fresh], probed: probedAs("unhealthy", fresh), images: { "web:1": true, "web:2": true } }), records({ rollout: record, deployed: WEB1.specHash, hasHistory: true, at: atOf(WEB2, WEB1) }));
    expect(d.writes.rollout).toMatchObject({ state: "verifyingRollback" });
    expect(d.writes.passed).toEqual([d.writes.rollout]);
    expect(steps(d)).toEqual([`remove ${fresh.name} (rolled back)`, `start ${old.name} (restore the previous revision)`]);
  });

  it("the clean-up step completes the rollout: old containers removed, row success, pin cleared", () => {
    const record = rollout(WEB2, into.completing);
    const [old, fresh] = [exited(WEB1), running(WEB2)];
    const d = decide(WEB2, world({ containers: [old, fresh], probed: probedAs("healthy", fresh) }), records({ rollout: record, deployed: WEB1.specHash, hasHistory: true, at: atOf(WEB2, WEB1) }));
    expect(writtenKeys(d.writes)).toEqual(["ended", "finish", "passed", "pin", "rollout"]);
    expect(d.writes.rollout).toBeNull();
    expect(d.writes.pin).toBeNull();
    expect(d.writes.ended).toMatchObject({ state: "complete", context: { phase: "Complete", revision: WEB2.specHash } });
    expect(d.writes.passed).toHaveLength(1);
    expect(d.writes.passed![0]).toBe(d.writes.ended);
    expect(d.writes.finish).toEqual({ deploymentId: 7, status: "success", error: undefined, healthCheckPassed: true });
    expect(steps(d)).toEqual([`remove ${old.name} (old revision, no longer needed for a rollback)`]);
    expect(probeOf(d).containers.map((c) => c.id)).toEqual([fresh.id]);
    expect(d.facts).toMatchObject({ rolling: true, message: `revision ${h12(WEB2)} rolled out`, requeueAfterMs: 0 });
    expect(d.error).toBeUndefined();
  });

  it("an operator's rollback that completes leaves its pin in place", () => {
    const record = rollout(WEB1, into.completing, { manifestRevision: WEB2.specHash, previous: WEB2.specHash, trigger: "rollback" });
    const fresh = running(WEB1);
    const d = decide(WEB2, world({ containers: [fresh], probed: probedAs("healthy", fresh) }), records({ rollout: record, pin: pin({ manifestRevision: WEB2.specHash, runRevision: WEB1.specHash, reason: "rollback requested" }), deployed: WEB2.specHash, hasHistory: true, at: atOf(WEB2, WEB1) }));
    expect(writtenKeys(d.writes)).toEqual(["ended", "finish", "passed", "rollout"]);
    expect(d.writes.passed!.map((x) => x.state)).toEqual(["complete"]);
    expect(d.writes.passed![0]).toBe(d.writes.ended);
    expect(d.writes.finish).toMatchObject({ status: "success" });
  });

  it.each([
    {
      name: "stalled: a first rollout (no previous) turns unhealthy",
      record: rollout(WEB2, into.healthCheck, { previous: undefined }),
      containers: () => [running(WEB2)],
      healthy: false,
      state: "stalled",
      status: "failed",
      verb: "failed",
      pin: null,
      retry: true,
    },
    {
      name: "stalled: autoRollback off",
      record: rollout(WEB2, into.healthCheck, { autoRollback: false }),
      containers: () => [running(WEB1), running(WEB2)],
      healthy: false,
      state: "stalled",
      status: "failed",
      verb: "failed",
      pin: "frozen",
      retry: false,
    },
    {
      name: "rolled back: the previous revision is ready again",
      record: rollout(WEB2, into.verifyingRollback),
      containers: () => [running(WEB1)],
      healthy: true,
      state: "rolledBack",
      status: "rolled_back",
      verb: "rolled back",
      pin: "held",
      retry: false,
    },
  ] as const)("$name -> terminal error, the phase is Failed", ({ record, containers, healthy, state, status, verb, pin: pinned, retry }) => {
    const own = containers();
    const fresh = own.find((c) => c.specHash === WEB2.specHash);
    const probed = Object.fromEntries(own.map((c) => [c.id, c.specHash === WEB2.specHash ? "unhealthy" : "healthy"] as const));
    const d = decide(WEB2, world({ containers: own, probed, checkOutput: fresh ? { [fresh.id]: "HTTP 500" } : {}, images: { "web:1": true, "web:2": true } }), records({ rollout: record, deployed: record.context.previous, hasHistory: true, at: atOf(WEB2, WEB1) }));
    const failure = healthy ? UNHEALTHY : `container ${fresh!.name} is unhealthy; health check http GET :8080/healthz last said: HTTP 500`;
    const message = `rollout of revision ${h12(WEB2)} ${verb}: ${failure}`;
    expect(d.writes.rollout).toBeNull();
    expect(d.writes.ended).toMatchObject({ state, context: { failure } });
    expect(d.writes.passed).toEqual([d.writes.ended]);
    expect(d.writes.finish).toEqual({ deploymentId: 7, status, error: failure, healthCheckPassed: false });
    if (pinned === null) expect(d.writes.pin).toBeNull();
    else if (pinned === "frozen") expect(d.writes.pin).toEqual({ service: KEY, manifestRevision: WEB2.specHash, runRevision: null, reason: `rollout failed: ${failure}`, since: T0 });
    else expect(d.writes.pin).toEqual({ service: KEY, manifestRevision: WEB2.specHash, runRevision: WEB1.specHash, reason: `rolled back: ${failure}`, since: T0 });
    expect(d.error).toEqual({ message, terminal: true, retry });
    expect(d.facts.rolling).toBeFalsy();
    expect(d.facts.message).toBe(message);
    expect(servicePhase(d.facts, d.error?.message)).toBe("Failed");
  });
});

describe("decideService: host port handover", () => {
  const holder = (overrides: Partial<ObservedContainer> = {}) => other("site", UNSET, { published: { "8080/tcp": 8088 }, ...overrides });
  const created = `create shop-dev-web-0-${PORTED.specHash.slice(0, 7)}`;
  const freed = (c: ObservedContainer) => `remove ${c.name} (frees host port 8088 for ${KEY}; its service is no longer declared)`;
  const inRollout = () => records({ rollout: rollout(PORTED, into.deploying, { previous: undefined }) });
  const steady = () => records({ deployed: PORTED.specHash, hasHistory: true });
  const site = holder();
  it.each([
    { name: "rollout deploying: an undeclared service's container goes before the create", r: inRollout, holders: [site], declared: ["dev/web"], want: [freed(site), `${created} (new revision)`] },
    { name: "steady repair: the same", r: steady, holders: [site], declared: ["dev/web"], want: [freed(site), `${created} (missing replica)`] },
    { name: "the holder's service is still declared: left alone", r: inRollout, holders: [site], declared: ["dev/web", "dev/site"], want: [`${created} (new revision)`] },
    { name: "the holder has exited: left alone", r: inRollout, holders: [holder({ state: "exited", exitCode: 0 })], declared: ["dev/web"], want: [`${created} (new revision)`] },
    { name: "the holder publishes another port: left alone", r: inRollout, holders: [holder({ published: { "8080/tcp": 9090 } })], declared: ["dev/web"], want: [`${created} (new revision)`] },
  ])("$name", ({ r, holders, declared, want }) => {
    const d = decide(PORTED, world({ portHolders: holders, declared: new Set(declared), images: { "web:2": true } }), r());
    expect(steps(d)).toEqual(want);
    expect(d.actions.at(-1)?.type).toBe("probe");
  });

  it("no create this pass -> no handover", () => {
    const fresh = running(PORTED);
    const d = decide(PORTED, world({ containers: [fresh], portHolders: [site, fresh], images: { "web:2": true } }), steady());
    expect(steps(d)).toEqual([]);
  });
});

describe("decideService: dependencies", () => {
  const dbc = other("db", DB.specHash);
  const peers = new Map([
    ["db", DB],
    ["api", API],
  ]);
  const apiRecords = (overrides: Partial<ServiceRecords> = {}) => records({ peers, ...overrides });
  it.each([
    { name: "first deploy, db's probe still starting", health: "starting" as const, r: apiRecords(), containers: [dbc] },
    { name: "first deploy, db's probe unhealthy", health: "unhealthy" as const, r: apiRecords(), containers: [dbc] },
    { name: "first deploy, db has no container", health: "healthy" as const, r: apiRecords(), containers: [], count: "0/1" },
    { name: "a missing replica of the deployed revision is not created", health: "starting" as const, r: apiRecords({ deployed: API.specHash, hasHistory: true }), containers: [dbc] },
  ])("$name -> no create, no begin, waits for Service/db", ({ health, r, containers }) => {
    const d = decideService("Service/dev/api", API, world({ containers, probed: probedAs(health, dbc), images: { "api:1": true }, declared: new Set(["dev/api", "dev/db"]) }), r);
    expect(d.writes).toEqual({});
    expect(d.actions).toEqual([{ type: "probe", checks: new Map(), network: NETWORK, containers: [] }]);
    expect(d.facts).toMatchObject({ converged: false, message: "waiting for Service/db to be healthy (0/1 healthy)", requeueAfterMs: 1_000, changed: false });
    expect(d.error).toBeUndefined();
  });

  it("db healthy by Berth's probe -> the rollout begins", () => {
    const d = decideService("Service/dev/api", API, world({ containers: [dbc], probed: probedAs("healthy", dbc), images: { "api:1": true } }), apiRecords());
    expect(d.writes.begin?.revision).toBe(API.specHash);
    // Begun and stepped at once: the image is there, so the first replica is created and its readiness awaited.
    expect(d.writes.passed!.map((x) => x.state)).toEqual(["building", "deploying", "healthCheck"]);
    expect(d.writes.rollout).toMatchObject({ state: "healthCheck", context: { deploymentId: NEW_DEPLOYMENT, revision: API.specHash, waiting: [0] } });
    expect(d.actions.filter((a) => a.type === "create")).toEqual([{ type: "create", slot: 0, name: `shop-dev-api-0-${API.specHash.slice(0, 7)}`, revision: API.specHash, reason: "new revision" }]);
    expect(d.facts.message).toBe(`rollout of revision ${h12(API)}: HealthCheck, waiting for slot(s) 0`);
    // api has no health check: a started container is ready at once, so it is looked at again soon, not at the health poll.
    expect(d.facts.requeueAfterMs).toBe(100);
  });

  it("db's Docker health status does not count for an http/tcp check", () => {
    const docker = other("db", DB.specHash, { health: "healthy" });
    const d = decideService("Service/dev/api", API, world({ containers: [docker], probed: {} }), apiRecords());
    expect(d.writes.begin).toBeUndefined();
    expect(d.facts.message).toBe("waiting for Service/db to be healthy (0/1 healthy)");
  });
});

describe("decideService: probes", () => {
  const OLD = stored(WEB2, OLD_CHECK);
  it.each([
    {
      name: "during a rollout",
      r: () => records({ rollout: rollout(WEB2, into.healthCheck, { previous: OLD_CHECK.specHash }), deployed: OLD_CHECK.specHash, hasHistory: true, at: new Map([[OLD.specHash, OLD]]) }),
    },
    {
      name: "as a rollout begins",
      r: () => records({ deployed: OLD_CHECK.specHash, hasHistory: true, at: new Map([[OLD.specHash, OLD]]) }),
    },
    {
      name: "while a pin holds the old revision",
      r: () => records({ pin: pin({ manifestRevision: WEB2.specHash, runRevision: OLD_CHECK.specHash }), deployed: OLD_CHECK.specHash, hasHistory: true, at: new Map([[OLD.specHash, OLD]]) }),
    },
    {
      name: "while a failed rollout is frozen",
      r: () => records({ pin: pin({ manifestRevision: WEB2.specHash, runRevision: null }), hasHistory: true, at: new Map([[OLD.specHash, OLD]]) }),
    },
  ])("$name, each running container is probed with its own revision's check", ({ r }) => {
    const old = running(OLD_CHECK, 0);
    const fresh = running(WEB2, 0);
    const gone = exited(OLD_CHECK, 1);
    const d = decide(WEB2, world({ containers: [old, fresh, gone], probed: { ...probedAs("healthy", old), ...probedAs("starting", fresh) }, images: { "web:1": true, "web:2": true } }), r());
    const probe = probeOf(d);
    expect(probe.network).toBe(NETWORK);
    expect(probe.containers.map((c) => c.id).sort()).toEqual([old.id, fresh.id].sort());
    expect(probe.checks).toEqual(
      new Map([
        [old.id, OLD_CHECK.healthCheck],
        [fresh.id, WEB2.healthCheck],
      ]),
    );
    expect(OLD_CHECK.healthCheck).not.toEqual(WEB2.healthCheck);
  });

  it("a container of a revision with no stored spec is probed with the service's check", () => {
    const stray = running(WEB1, 0, { specHash: UNSET });
    const fresh = running(WEB2, 0);
    const d = decide(WEB2, world({ containers: [stray, fresh], probed: probedAs("healthy", fresh) }), records({ rollout: rollout(WEB2, into.healthCheck), deployed: WEB1.specHash, hasHistory: true }));
    expect(probeOf(d).checks).toEqual(
      new Map([
        [stray.id, WEB2.healthCheck],
        [fresh.id, WEB2.healthCheck],
      ]),
    );
  });

  it("the services' own containers only: others in the environment are not probed here", () => {
    const mine = running(WEB1);
    const d = decide(WEB1, world({ containers: [mine, other("db", UNSET)], probed: probedAs("healthy", mine) }), records({ deployed: WEB1.specHash, hasHistory: true }));
    expect([...probeOf(d).checks.keys()]).toEqual([mine.id]);
  });
});

describe("decideService: a rollout cleaning up when something newer is asked for", () => {
  it("finishes as a success instead of staying in clean-up (the next pass starts the newer revision)", () => {
    const c = running(WEB2);
    const d = decide(WEB1, world({ containers: [c] }), records({ rollout: rollout(WEB2, into.completing), deployed: WEB1.specHash, hasHistory: true, at: atOf(WEB1, WEB2) }));
    expect(d.writes.rollout).toBeNull();
    expect(d.writes.finish).toMatchObject({ deploymentId: 7, status: "success" });
    expect(d.writes.begin).toBeUndefined();
  });
});

describe("decideService: a frozen service (failed without rollback) is still suspended", () => {
  it("stops its running containers when its environment is suspended, though the pin holds its revision", () => {
    const c = running(WEB1);
    const frozen = pin({ manifestRevision: SUSPENDED.specHash, runRevision: null, reason: "rollout failed: x" });
    const d = decide(SUSPENDED, world({ containers: [c] }), records({ pin: frozen, deployed: WEB1.specHash, hasHistory: true, at: atOf(SUSPENDED, WEB1) }));
    expect(d.actions.filter((a) => a.type === "stop").map((a) => (a as { id: string }).id)).toEqual([c.id]);
    expect(d.facts.held).toContain("rollout failed: x");
    expect(d.facts.converged).toBe(false);
  });
});

describe("decideUnrecorded: the store cannot be read or written", () => {
  it.each([
    { name: "a new service (no container): its replicas are created, nothing recorded", containers: () => [], images: { "web:2": true }, creates: 1, error: false },
    { name: "the running revision's container was removed behind Berth's back: it is created again", containers: () => [running(WEB2, 0, { state: "dead" })], images: { "web:2": true }, creates: 1, error: false },
    { name: "another revision runs: the change waits for the store", containers: () => [running(WEB1)], images: {} as Record<string, boolean>, creates: 0, error: true },
  ])("$name", ({ containers, images, creates, error }) => {
    const d = decideUnrecorded(WEB2, new Map(), world({ containers: containers(), images }), "database disk is full at the --db database");
    expect(d.writes).toEqual({});
    expect(d.actions.filter((a) => a.type === "create")).toHaveLength(creates);
    if (error) expect(d.error).toMatchObject({ terminal: false, retry: true, message: expect.stringContaining("a change of revision waits for it") });
    else expect(d.error).toBeUndefined();
  });
});

describe("decideUnrecorded: stopped containers of another revision", () => {
  it.each(["exited", "restarting", "paused", "created"] as const)("an old revision's %s container is not replaced while the store is down", (state) => {
    const d = decideUnrecorded(WEB2, new Map(), world({ containers: [running(WEB1, 0, { state })], images: { "web:2": true } }), "database disk is full");
    expect(d.actions.filter((a) => a.type === "create" || a.type === "remove")).toEqual([]);
    expect(d.error?.message).toContain("a change of revision waits for it");
  });
});

describe("decideService: taking over from docker compose", () => {
  const composeWeb = { id: "compose-web", name: "shop_web_1", state: "running" };
  const kinds = (d: ReturnType<typeof decide>) => d.actions.filter((a) => a.type !== "probe").map((a) => `${a.type} ${"name" in a ? a.name : ""}`.trim());

  it("compose's container steps aside (stopped, kept) right before Berth's first container is created", () => {
    const d = decide(WEB2, world({ images: { "web:2": true }, adoptees: [composeWeb] }), records());
    const steps = kinds(d);
    expect(steps).toContain("stop shop_web_1");
    expect(steps.indexOf("stop shop_web_1")).toBe(steps.findIndex((s) => s.startsWith("create ")) - 1);
    expect(steps).not.toContain("remove shop_web_1");
  });

  it("once Berth's revision succeeded, compose's container goes", () => {
    const c = running(WEB2);
    const d = decide(WEB2, world({ containers: [c], probed: probedAs("healthy", c), adoptees: [{ ...composeWeb, state: "exited" }] }), records({ deployed: WEB2.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB2) }));
    expect(kinds(d)).toEqual(["remove shop_web_1"]);
    expect(d.change).toMatchObject({ action: "adopt" });
    expect(d.facts.converged).toBe(false);
  });

  it("when Berth's first revision failed, compose's container serves again", () => {
    const d = decide(BROKEN, world({ adoptees: [{ ...composeWeb, state: "exited" }] }), records());
    expect(d.error).toBeDefined();
    expect(kinds(d)).toEqual(["start shop_web_1"]);
  });

  it("nothing of compose's left: the decision is Berth's alone", () => {
    const c = running(WEB2);
    const plain = decide(WEB2, world({ containers: [c], probed: probedAs("healthy", c) }), records({ deployed: WEB2.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB2) }));
    const adopting = decide(WEB2, world({ containers: [c], probed: probedAs("healthy", c), adoptees: [] }), records({ deployed: WEB2.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB2) }));
    expect(adopting).toEqual(plain);
  });
});

describe("decideService: a restore holds the service", () => {
  const steadyRecords = records({ deployed: WEB1.specHash, hasHistory: true, deployedSpec: revisionSpecOf(WEB1), restoring: 12 });
  it.each([
    { name: "its containers stopped by the restore are not started again", containers: [running(WEB1, 0, { state: "exited", exitCode: 0 })], manifest: WEB1 },
    { name: "a new revision does not begin", containers: [running(WEB1, 0)], manifest: WEB2 },
    { name: "a missing replica is not created", containers: [], manifest: WEB1_X3 },
  ])("$name", ({ containers, manifest }) => {
    const d = decide(manifest, world({ containers, images: { "web:1": true, "web:2": true } }), steadyRecords);
    expect(d.actions).toEqual([]);
    expect(d.writes).toEqual({});
    expect(d.facts).toMatchObject({ converged: false, held: "held while backup 12 is restored into its volume", requeueAfterMs: 2_000 });
  });
});
