import { describe, expect, it } from "vitest";
import type { ObservedContainer } from "../../src/docker/observe.ts";
import { observedContainer } from "../../test/support/containers.ts";
import { describeServiceAction, holdBackStarts, planImage, planService, type ServiceDesired } from "./plan.ts";
import { create, serviceChange, type ServiceAction } from "./plan.ts";

const HASH = "a".repeat(64);
const OLD = "b".repeat(64);

function svc(overrides: Partial<ServiceDesired> = {}): ServiceDesired {
  return { project: "shop", environment: "dev", service: "web", replicas: 1, suspended: false, specHash: HASH, strategy: "rolling", restartPolicy: "unless-stopped", ...overrides };
}

function container(slot: number, overrides: Partial<ObservedContainer> = {}): ObservedContainer {
  return observedContainer(slot, overrides.specHash ?? HASH, overrides);
}

const plan = (desired: ServiceDesired, observed: ObservedContainer[]) => planService(desired, observed).map(describeServiceAction);

describe("planService", () => {
  it.each([
    { name: "nothing running -> create one per replica", desired: svc({ replicas: 2 }), observed: [], want: ["create shop-dev-web-0-aaaaaaa (missing replica)", "create shop-dev-web-1-aaaaaaa (missing replica)"] },
    { name: "same spec hash, running -> nothing", desired: svc(), observed: [container(0)], want: [] },
    { name: "spec changed, rolling -> new container first, then the old one goes", desired: svc(), observed: [container(0, { specHash: OLD })], want: ["create shop-dev-web-0-aaaaaaa (spec changed)", "remove shop-dev-web-0-bbbbbbb (outdated spec)"] },
    { name: "spec changed, recreate -> old one goes first", desired: svc({ strategy: "recreate" }), observed: [container(0, { specHash: OLD })], want: ["remove shop-dev-web-0-bbbbbbb (outdated spec)", "create shop-dev-web-0-aaaaaaa (spec changed)"] },
    { name: "stopped container of the current spec -> start it", desired: svc(), observed: [container(0, { state: "exited", exitCode: 137 })], want: ["start shop-dev-web-0-aaaaaaa (container is exited)"] },
    { name: "created but never started -> start it", desired: svc(), observed: [container(0, { state: "created" })], want: ["start shop-dev-web-0-aaaaaaa (container is created)"] },
    { name: "one-shot job that exited 0 with restartPolicy no -> leave it", desired: svc({ restartPolicy: "no" }), observed: [container(0, { state: "exited", exitCode: 0 })], want: [] },
    { name: "one-shot job that failed -> left to its restart policy, no restart loop", desired: svc({ restartPolicy: "no" }), observed: [container(0, { state: "exited", exitCode: 1 })], want: [] },
    { name: "on-failure container that exited -> left to Docker's restart policy", desired: svc({ restartPolicy: "on-failure" }), observed: [container(0, { state: "exited", exitCode: 3 })], want: [] },
    { name: "always-restart container stopped by someone -> start it", desired: svc({ restartPolicy: "always" }), observed: [container(0, { state: "exited", exitCode: 0 })], want: ["start shop-dev-web-0-aaaaaaa (container is exited)"] },
    { name: "dead container -> replace", desired: svc(), observed: [container(0, { state: "dead" })], want: ["remove shop-dev-web-0-aaaaaaa (container is dead)", "create shop-dev-web-0-aaaaaaa (replace dead container)"] },
    { name: "scale down -> remove the highest slots", desired: svc({ replicas: 1 }), observed: [container(0), container(1), container(2)], want: ["remove shop-dev-web-2-aaaaaaa (scaled down)", "remove shop-dev-web-1-aaaaaaa (scaled down)"] },
    { name: "replicas 0 -> remove all", desired: svc({ replicas: 0 }), observed: [container(0)], want: ["remove shop-dev-web-0-aaaaaaa (scaled down)"] },
    { name: "old and new side by side after an interrupted rollout -> drop the old", desired: svc(), observed: [container(0, { specHash: OLD }), container(0)], want: ["remove shop-dev-web-0-bbbbbbb (outdated spec)"] },
    { name: "container without a slot label -> remove", desired: svc(), observed: [container(0), container(-1, { name: "stray" })], want: ["remove stray (no replica slot label)"] },
    { name: "old revision retiring in the background -> left to finish, nothing planned for it", desired: svc(), observed: [container(0), container(0, { specHash: OLD, networks: [], retiring: true })], want: [] },
    { name: "suspended -> stop running containers, remove nothing", desired: svc({ suspended: true, replicas: 2 }), observed: [container(0), container(1, { state: "exited" })], want: ["stop shop-dev-web-0-aaaaaaa (environment suspended)"] },
  ])("$name", ({ desired, observed, want }) => {
    expect(plan(desired, observed)).toEqual(want);
  });

  it("keeps the newest of two containers with the current spec in one slot", () => {
    const older = container(0, { id: "older", name: "older" });
    const newer = container(0, { id: "newer", name: "newer" });
    expect(plan(svc(), [older, newer])).toEqual(["remove older (duplicate in its replica slot)"]);
  });
});

describe("planImage", () => {
  it.each([
    { name: "pull when missing", image: { ref: "web:1", pullPolicy: "IfNotPresent" as const }, present: false, want: ["pull web:1 (image not present)"] },
    { name: "no pull when present", image: { ref: "web:1", pullPolicy: "IfNotPresent" as const }, present: true, want: [] },
    { name: "always pull", image: { ref: "web:1", pullPolicy: "Always" as const }, present: true, want: ["pull web:1 (imagePullPolicy Always)"] },
    { name: "never pull", image: { ref: "web:1", pullPolicy: "Never" as const }, present: false, want: [] },
    { name: "build when the content tag is missing", image: { ref: "berth-build/shop-web:abc", pullPolicy: "Never" as const, build: { dir: "/x", files: [], dockerfile: "Dockerfile" } }, present: false, want: ["build berth-build/shop-web:abc (image not built yet)"] },
  ])("$name", ({ image, present, want }) => {
    expect(planImage(image, present).map(describeServiceAction)).toEqual(want);
  });
});

describe("holdBackStarts", () => {
  it("keeps scale-downs, drops creations, starts and the removals their replacements depend on", () => {
    const desired = svc({ replicas: 2 });
    const observed = [container(0, { specHash: OLD }), container(1, { state: "created" }), container(2)];
    const actions = planService(desired, observed);
    expect(actions.map(describeServiceAction)).toEqual([
      "create shop-dev-web-0-aaaaaaa (spec changed)",
      "remove shop-dev-web-0-bbbbbbb (outdated spec)",
      "start shop-dev-web-1-aaaaaaa (container is created)",
      "remove shop-dev-web-2-aaaaaaa (scaled down)",
    ]);
    expect(holdBackStarts(actions).map(describeServiceAction)).toEqual(["remove shop-dev-web-2-aaaaaaa (scaled down)"]);
  });
});

describe("planService on the service's network", () => {
  const NETWORK = "shop-dev";
  const planOn = (desired: ServiceDesired, observed: ObservedContainer[]) => planService(desired, observed, NETWORK).map(describeServiceAction);

  it.each([
    { name: "running, on the network, in the name -> nothing", observed: () => [container(0)], want: [] },
    { name: "running, on the network, joined after being created outside the name -> nothing", observed: () => [container(0, { joinWhenReady: true, unjoined: false })], want: [] },
    { name: "running outside the service's name (a rollout ended before it joined) -> join", observed: () => [container(0, { joinWhenReady: true, unjoined: true })], want: ["join shop-dev-web-0-aaaaaaa (runs outside its service's name)"] },
    { name: "created outside the name, never started -> started first, joined once it runs", observed: () => [container(0, { state: "created", joinWhenReady: true, unjoined: true })], want: ["start shop-dev-web-0-aaaaaaa (container is created)"] },
    {
      name: "running but off the network (taken out of service) -> removed and created again",
      observed: () => [container(0, { networks: [] })],
      want: ["remove shop-dev-web-0-aaaaaaa (not on network shop-dev)", "create shop-dev-web-0-aaaaaaa (replace a container taken out of service)"],
    },
    {
      name: "stopped and off the network -> replaced, not started: started, it would be unreachable",
      observed: () => [container(0, { state: "exited", exitCode: 0, networks: [] })],
      want: ["remove shop-dev-web-0-aaaaaaa (not on network shop-dev)", "create shop-dev-web-0-aaaaaaa (replace a container taken out of service)"],
    },
    { name: "on another network only -> replaced", observed: () => [container(0, { networks: ["shop-dev-backend"] })], want: ["remove shop-dev-web-0-aaaaaaa (not on network shop-dev)", "create shop-dev-web-0-aaaaaaa (replace a container taken out of service)"] },
    { name: "an old revision's container off the network, still running, beside a current one (retired before a restart) -> retired again, in the background", observed: () => [container(0, { specHash: OLD, networks: [] }), container(0)], want: ["retire shop-dev-web-0-bbbbbbb (outdated spec)"] },
    { name: "an old revision's container off the network and stopped -> removed", observed: () => [container(0, { specHash: OLD, networks: [], state: "exited" }), container(0)], want: ["remove shop-dev-web-0-bbbbbbb (outdated spec)"] },
    { name: "an old revision's container still retiring -> nothing: it is on its way out", observed: () => [container(0, { specHash: OLD, networks: [], retiring: true }), container(0)], want: [] },
    { name: "the current revision's container retiring (a revert) -> removed (after its stop) and created again", observed: () => [container(0, { networks: [], retiring: true })], want: ["remove shop-dev-web-0-aaaaaaa (not on network shop-dev)", "create shop-dev-web-0-aaaaaaa (replace a container taken out of service)"] },
  ])("$name", ({ observed, want }) => {
    expect(planOn(svc(), observed())).toEqual(want);
  });

  it("without a network to check, a container off every network is left as it is", () => {
    expect(planService(svc(), [container(0, { networks: [] })]).map(describeServiceAction)).toEqual([]);
  });

  it("the replacement of a container off the network is created under the name it holds: removed first", () => {
    const detached = container(0, { id: "detached", networks: [] });
    const actions = planService(svc(), [detached], NETWORK);
    expect(actions).toEqual([
      { type: "remove", id: "detached", name: detached.name, slot: 0, reason: "not on network shop-dev" },
      { type: "create", slot: 0, name: detached.name, revision: HASH, reason: "replace a container taken out of service" },
    ]);
  });

  it("a join carries the container's id", () => {
    const unjoined = container(0, { id: "fresh", joinWhenReady: true, unjoined: true });
    expect(planService(svc(), [unjoined], NETWORK)).toEqual([{ type: "join", id: "fresh", name: unjoined.name, networks: unjoined.networks, reason: "runs outside its service's name" }]);
  });

  it("a steady plan never creates a container outside the service's name", () => {
    const actions = planService(svc({ replicas: 3 }), [container(0, { networks: [] }), container(1, { state: "dead" })], NETWORK);
    expect(actions.filter((a) => a.type === "create")).toHaveLength(3);
    for (const a of actions) if (a.type === "create") expect(a).not.toHaveProperty("joinWhenReady");
  });
});

describe("join and retire, as plan prints them and drift records them", () => {
  const join: ServiceAction = { type: "join", id: "c1", name: "shop-dev-web-0-aaaaaaa", networks: ["shop-dev"], reason: "ready" };
  const retire = (remove: boolean): ServiceAction => ({ type: "retire", id: "c0", name: "shop-dev-web-0-bbbbbbb", slot: 0, networks: ["shop-dev"], remove, reason: "replacement is ready" });

  it("prints `join <name> (<reason>)` and `retire <name> (<reason>)`", () => {
    expect([join, retire(false)].map(describeServiceAction)).toEqual(["join shop-dev-web-0-aaaaaaa (ready)", "retire shop-dev-web-0-bbbbbbb (replacement is ready)"]);
  });

  it("records a join and a retirement (stopped, or removed) as changes of the container", () => {
    expect(serviceChange(join)).toEqual({ path: "container shop-dev-web-0-aaaaaaa", observed: "outside the service's name", desired: "answers to it (ready)" });
    expect(serviceChange(retire(false))).toEqual({ path: "container shop-dev-web-0-bbbbbbb", observed: "serving", desired: "out of service, stopped (replacement is ready)" });
    expect(serviceChange(retire(true))).toEqual({ path: "container shop-dev-web-0-bbbbbbb", observed: "serving", desired: "out of service, removed (replacement is ready)" });
  });

  it("create carries joinWhenReady only when asked", () => {
    expect(create(svc(), 0, "new revision")).toStrictEqual({ type: "create", slot: 0, name: "shop-dev-web-0-aaaaaaa", revision: HASH, reason: "new revision" });
    expect(create(svc(), 0, "new revision", true)).toStrictEqual({ type: "create", slot: 0, name: "shop-dev-web-0-aaaaaaa", revision: HASH, reason: "new revision", joinWhenReady: true });
    // Plan prints the create the same either way.
    expect(describeServiceAction(create(svc(), 0, "new revision", true))).toBe("create shop-dev-web-0-aaaaaaa (new revision)");
  });
});
