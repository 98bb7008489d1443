import { describe, expect, it } from "vitest";
import type { ObservedContainer } from "../../src/docker/observe.ts";
import { observedContainer } from "../../test/support/containers.ts";
import { describeServiceAction, holdBackStarts, planImage, planService, type ServiceDesired } from "./plan.ts";

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
