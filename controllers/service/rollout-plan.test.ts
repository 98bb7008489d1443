import { describe, expect, it } from "vitest";
import type { ObservedContainer } from "../../src/docker/observe.ts";
import { observedContainer } from "../../test/support/containers.ts";
import { describeServiceAction, type ServiceAction } from "./plan.ts";
import { planCleanup, planRestore, planRolloutStep, readiness, type ReplicaView, type RolloutDesired } from "./rollout-plan.ts";

/** Revision being rolled out (names end in -aaaaaaa). */
const NEW = "a".repeat(64);
/** Revision running before (names end in -bbbbbbb). */
const OLD = "b".repeat(64);
/** A revision older still (names end in -ccccccc). */
const OLDER = "c".repeat(64);

/** A health check: with one, a container created beside serving ones joins the service's name only once ready. */
const CHECK = { http: { path: "/healthz", port: 8080 } };

function rollout(overrides: Partial<RolloutDesired> = {}): RolloutDesired {
  return { project: "shop", environment: "dev", service: "web", replicas: 3, specHash: NEW, strategy: "rolling", restartPolicy: "unless-stopped", maxSurge: 1, maxUnavailable: 0, ...overrides };
}

/** A running, ready container of the new revision in `slot`, named as Berth names it; later calls are newer. */
function replica(slot: number, overrides: Partial<ReplicaView> = {}): ReplicaView {
  return { ...observedContainer(slot, overrides.specHash ?? NEW), ready: true, unhealthy: false, ...overrides };
}

/** A running, ready container of the previous revision. */
const old = (slot: number, overrides: Partial<ReplicaView> = {}) => replica(slot, { specHash: OLD, ...overrides });
/** One running, ready container of the previous revision per slot. */
const oldFleet = (replicas: number) => Array.from({ length: replicas }, (_, slot) => old(slot));

/** A step with its actions as `berth plan` prints them. */
function step(desired: RolloutDesired, observed: readonly ReplicaView[], options: { replaceFailed?: boolean } = {}) {
  const result = planRolloutStep(desired, observed, options);
  return { ...result, actions: result.actions.map(describeServiceAction) };
}

const describeAll = (actions: ServiceAction[]) => actions.map(describeServiceAction);

/**
 * What Docker shows once `actions` ran: creations run but are not ready yet
 * (health check starting), and one created to join when ready is outside the
 * service's name (unjoined) until a join; starts run, stops leave an exited
 * container, removals leave nothing. A retirement takes the container off the
 * service's network (detached) and, modelling its background stop as finished
 * by the next look, leaves it exited, or gone when it was to be removed;
 * `stopping`: the next look comes within its stop grace, so it still runs.
 */
function apply(observed: readonly ReplicaView[], actions: readonly ServiceAction[], specHash: string, { stopping = false } = {}): ReplicaView[] {
  let next = observed.map((c) => ({ ...c }));
  for (const action of actions) {
    switch (action.type) {
      case "create":
        next.push(replica(action.slot, { specHash, name: action.name, ready: false, ...(action.joinWhenReady ? { joinWhenReady: true, unjoined: true } : {}) }));
        break;
      case "join":
        next = next.map((c) => (c.id === action.id ? { ...c, unjoined: false } : c));
        break;
      case "retire":
        if (action.remove) next = next.filter((c) => c.id !== action.id);
        else next = next.map((c) => (c.id === action.id ? { ...c, ...(stopping ? {} : { state: "exited", exitCode: 0, ready: false }), networks: [], detached: true } : c));
        break;
      case "start":
        next = next.map((c) => (c.id === action.id ? { ...c, state: "running", ready: false } : c));
        break;
      case "stop":
        next = next.map((c) => (c.id === action.id ? { ...c, state: "exited", exitCode: 0, ready: false } : c));
        break;
      case "remove":
        next = next.filter((c) => c.id !== action.id);
        break;
      default:
        throw new Error(`test: a rollout step never plans ${action.type}`);
    }
  }
  return next;
}

/** The new revision's running containers in `slots` pass their health check. */
function becomeReady(observed: readonly ReplicaView[], slots: readonly number[], specHash = NEW): ReplicaView[] {
  return observed.map((c) => (c.specHash === specHash && slots.includes(c.slot) && c.state === "running" ? { ...c, ready: true } : c));
}

/** Slots that hold a non-dead container of the new revision. */
const freshSlots = (observed: readonly ReplicaView[], specHash = NEW) => new Set(observed.filter((c) => c.specHash === specHash && c.state !== "dead").map((c) => c.slot));

interface ScriptStep {
  /** New containers that became ready since the previous step. */
  ready: number[];
  want: string[];
  waiting: number[];
  done: boolean;
}

/** Plays a rollout: before each step the given slots turn ready, then the step is checked and applied. */
function play(desired: RolloutDesired, initial: ReplicaView[], script: ScriptStep[]) {
  let observed = initial;
  script.forEach(({ ready, want, waiting, done }, i) => {
    observed = becomeReady(observed, ready);
    const result = step(desired, observed);
    expect({ step: i + 1, ...result }).toEqual({ step: i + 1, actions: want, waiting, done });
    observed = apply(observed, planRolloutStep(desired, observed).actions, desired.specHash);
  });
  return observed;
}

describe("planRolloutStep: first rollout", () => {
  it.each([
    { strategy: "rolling" as const, maxSurge: 1, maxUnavailable: 0 },
    { strategy: "rolling" as const, maxSurge: 0, maxUnavailable: 1 },
    { strategy: "recreate" as const, maxSurge: 1, maxUnavailable: 0 },
  ])("no containers, $strategy (surge $maxSurge, unavailable $maxUnavailable) -> one create per slot, no budget needed", ({ strategy, maxSurge, maxUnavailable }) => {
    expect(step(rollout({ strategy, maxSurge, maxUnavailable }), [])).toEqual({
      actions: ["create shop-dev-web-0-aaaaaaa (new revision)", "create shop-dev-web-1-aaaaaaa (new revision)", "create shop-dev-web-2-aaaaaaa (new revision)"],
      waiting: [0, 1, 2],
      done: false,
    });
  });

  it("creates carry the slot and the container name of the new revision", () => {
    expect(planRolloutStep(rollout({ replicas: 1 }), []).actions).toEqual([{ type: "create", slot: 0, name: "shop-dev-web-0-aaaaaaa", revision: "a".repeat(64), reason: "new revision" }]);
  });

  it("replicas 0 and nothing running -> done at once", () => {
    expect(step(rollout({ replicas: 0 }), [])).toEqual({ actions: [], waiting: [], done: true });
  });
});

describe("planRolloutStep: rolling, step by step", () => {
  it("3 replicas, maxSurge 1, maxUnavailable 0: one new container beside the old ones at a time", () => {
    const observed = play(rollout(), oldFleet(3), [
      { ready: [], want: ["create shop-dev-web-0-aaaaaaa (new revision beside the old one)"], waiting: [0], done: false },
      // Slot 0 not ready yet: nothing more is created, the old one keeps serving.
      { ready: [], want: [], waiting: [0], done: false },
      { ready: [0], want: ["create shop-dev-web-1-aaaaaaa (new revision beside the old one)", "retire shop-dev-web-0-bbbbbbb (replacement is ready)"], waiting: [1], done: false },
      { ready: [], want: [], waiting: [1], done: false },
      { ready: [1], want: ["create shop-dev-web-2-aaaaaaa (new revision beside the old one)", "retire shop-dev-web-1-bbbbbbb (replacement is ready)"], waiting: [2], done: false },
      { ready: [2], want: ["retire shop-dev-web-2-bbbbbbb (replacement is ready)"], waiting: [], done: false },
      { ready: [], want: [], waiting: [], done: true },
    ]);
    // Old containers are retired (off the service's network, then stopped), not removed: clean-up removes them once the rollout succeeded.
    expect(observed.filter((c) => c.specHash === OLD).map((c) => [c.slot, c.state, c.detached])).toEqual([
      [0, "exited", true],
      [1, "exited", true],
      [2, "exited", true],
    ]);
  });

  it("3 replicas, maxSurge 0, maxUnavailable 1: the old container stops and the new one takes its place, one slot at a time", () => {
    play(rollout({ maxSurge: 0, maxUnavailable: 1 }), oldFleet(3), [
      { ready: [], want: ["stop shop-dev-web-0-bbbbbbb (makes room for the new revision)", "create shop-dev-web-0-aaaaaaa (new revision in place of the old one)"], waiting: [0], done: false },
      { ready: [], want: [], waiting: [0], done: false },
      { ready: [0], want: ["stop shop-dev-web-1-bbbbbbb (makes room for the new revision)", "create shop-dev-web-1-aaaaaaa (new revision in place of the old one)"], waiting: [1], done: false },
      { ready: [1], want: ["stop shop-dev-web-2-bbbbbbb (makes room for the new revision)", "create shop-dev-web-2-aaaaaaa (new revision in place of the old one)"], waiting: [2], done: false },
      { ready: [], want: [], waiting: [2], done: false },
      { ready: [2], want: [], waiting: [], done: true },
    ]);
  });

  it("3 replicas, maxSurge 2: two new containers beside the old ones at once", () => {
    play(rollout({ maxSurge: 2 }), oldFleet(3), [
      { ready: [], want: ["create shop-dev-web-0-aaaaaaa (new revision beside the old one)", "create shop-dev-web-1-aaaaaaa (new revision beside the old one)"], waiting: [0, 1], done: false },
      { ready: [], want: [], waiting: [0, 1], done: false },
      { ready: [0], want: ["create shop-dev-web-2-aaaaaaa (new revision beside the old one)", "retire shop-dev-web-0-bbbbbbb (replacement is ready)"], waiting: [1, 2], done: false },
      { ready: [1, 2], want: ["retire shop-dev-web-1-bbbbbbb (replacement is ready)", "retire shop-dev-web-2-bbbbbbb (replacement is ready)"], waiting: [], done: false },
      { ready: [], want: [], waiting: [], done: true },
    ]);
  });

  it("maxSurge 1 and maxUnavailable 1: one slot beside, one in place", () => {
    expect(step(rollout({ maxSurge: 1, maxUnavailable: 1 }), oldFleet(3))).toEqual({
      actions: [
        "stop shop-dev-web-1-bbbbbbb (makes room for the new revision)",
        "create shop-dev-web-0-aaaaaaa (new revision beside the old one)",
        "create shop-dev-web-1-aaaaaaa (new revision in place of the old one)",
      ],
      waiting: [0, 1],
      done: false,
    });
  });
});

describe("planRolloutStep: slots that serve nothing", () => {
  it.each([
    {
      name: "old container exited -> create without spending the surge budget",
      observed: () => [old(0, { state: "exited", exitCode: 0, ready: false }), old(1), old(2)],
      want: ["create shop-dev-web-0-aaaaaaa (new revision)", "create shop-dev-web-1-aaaaaaa (new revision beside the old one)"],
      waiting: [0, 1],
    },
    {
      name: "slot with no container at all -> create without budget",
      observed: () => [old(0), old(2)],
      want: ["create shop-dev-web-0-aaaaaaa (new revision beside the old one)", "create shop-dev-web-1-aaaaaaa (new revision)"],
      waiting: [0, 1],
    },
    {
      name: "old container runs but is not ready -> it is retired and the new one replaces it without budget",
      observed: () => [old(0, { ready: false }), old(1), old(2)],
      want: ["create shop-dev-web-0-aaaaaaa (new revision)", "create shop-dev-web-1-aaaaaaa (new revision beside the old one)", "retire shop-dev-web-0-bbbbbbb (replaced by the new revision)"],
      waiting: [0, 1],
    },
    {
      name: "surge budget already spent elsewhere -> the idle slot is still filled",
      observed: () => [old(0), replica(0, { ready: false }), old(1, { state: "exited", ready: false }), old(2)],
      want: ["create shop-dev-web-1-aaaaaaa (new revision)"],
      waiting: [0, 1],
    },
  ])("$name", ({ observed, want, waiting }) => {
    expect(step(rollout(), observed())).toEqual({ actions: want, waiting, done: false });
  });
});

describe("planRolloutStep: recreate", () => {
  it("stops every running old container first, then creates every slot", () => {
    play(rollout({ strategy: "recreate" }), oldFleet(3), [
      {
        ready: [],
        want: [
          "stop shop-dev-web-0-bbbbbbb (recreate: old revision stops first)",
          "stop shop-dev-web-1-bbbbbbb (recreate: old revision stops first)",
          "stop shop-dev-web-2-bbbbbbb (recreate: old revision stops first)",
          "create shop-dev-web-0-aaaaaaa (new revision)",
          "create shop-dev-web-1-aaaaaaa (new revision)",
          "create shop-dev-web-2-aaaaaaa (new revision)",
        ],
        waiting: [0, 1, 2],
        done: false,
      },
      { ready: [], want: [], waiting: [0, 1, 2], done: false },
      { ready: [0, 2], want: [], waiting: [1], done: false },
      { ready: [1], want: [], waiting: [], done: true },
    ]);
  });

  it("old containers that no longer run are not stopped again", () => {
    const observed = [old(0, { state: "exited", ready: false }), old(1, { state: "restarting", ready: false })];
    expect(step(rollout({ strategy: "recreate", replicas: 2 }), observed).actions).toEqual([
      "stop shop-dev-web-1-bbbbbbb (recreate: old revision stops first)",
      "create shop-dev-web-0-aaaaaaa (new revision)",
      "create shop-dev-web-1-aaaaaaa (new revision)",
    ]);
  });

  it("a recreate that scales down also stops the old containers beyond the new replica count", () => {
    const result = step(rollout({ strategy: "recreate", replicas: 2 }), oldFleet(3));
    expect(result.actions).toContain("stop shop-dev-web-2-bbbbbbb (recreate: old revision stops first)");
  });
});

describe("planRolloutStep: failures", () => {
  it("an unhealthy new container fails the rollout, with no actions", () => {
    const observed = [replica(0), old(0, { state: "exited", ready: false }), old(1), replica(1, { unhealthy: true, ready: false }), old(2)];
    expect(step(rollout(), observed)).toEqual({ actions: [], waiting: [], done: false, failure: "container shop-dev-web-1-aaaaaaa is unhealthy" });
  });

  // The health wait fails a container that exits on its own; a step only sees stopped ones it may start again
  // (e.g. the previous revision's, stopped by a rollout that a manifest revert superseded).
  it.each([{ exitCode: 137 }, { exitCode: 0 }, {}])("a stopped container of the revision (%o) is started again, not failed", (exit) => {
    const observed = [replica(0), old(0, { state: "exited", ready: false }), old(1), replica(1, { state: "exited", ready: false, ...exit }), old(2)];
    const result = step(rollout(), observed);
    expect(result.failure).toBeUndefined();
    expect(result.actions).toContain(`start shop-dev-web-1-aaaaaaa (revision's container is stopped)`);
    expect(result.waiting).toContain(1);
  });

  it("an unhealthy old container is no failure of the rollout", () => {
    const result = step(rollout({ replicas: 1 }), [old(0, { unhealthy: true, ready: false })]);
    expect(result.failure).toBeUndefined();
    expect(result.actions).toEqual(["create shop-dev-web-0-aaaaaaa (new revision)", "retire shop-dev-web-0-bbbbbbb (replaced by the new revision)"]);
  });

  it("an exited new container superseded by a newer one of the same revision is no failure", () => {
    const observed = [old(0), replica(0, { id: "first", state: "exited", exitCode: 1, ready: false }), replica(0, { id: "second", ready: false })];
    expect(step(rollout({ replicas: 1 }), observed)).toEqual({ actions: [], waiting: [0], done: false });
  });
});

describe("planRolloutStep: new containers not started", () => {
  it("a created (never started) new container is started, not created again, and holds its surge", () => {
    const observed = [old(0), replica(0, { state: "created", ready: false }), old(1), old(2)];
    expect(step(rollout(), observed)).toEqual({ actions: ["start shop-dev-web-0-aaaaaaa (new revision not started yet)"], waiting: [0], done: false });
  });

  it("start actions carry the container's id", () => {
    const fresh = replica(0, { id: "fresh-0", state: "created", ready: false });
    expect(planRolloutStep(rollout({ replicas: 1 }), [fresh]).actions).toEqual([{ type: "start", id: "fresh-0", name: "shop-dev-web-0-aaaaaaa", reason: "new revision not started yet" }]);
  });
});

describe("planRolloutStep: done", () => {
  it.each([
    { name: "old container still running beside a ready new one", observed: () => [replica(0), replica(1), old(1), replica(2)], want: ["retire shop-dev-web-1-bbbbbbb (replacement is ready)"] },
    { name: "old container restarting beside a ready new one", observed: () => [replica(0), replica(1), old(1, { state: "restarting", ready: false }), replica(2)], want: ["retire shop-dev-web-1-bbbbbbb (replacement is ready)"] },
    { name: "a container of an even older revision still running", observed: () => [replica(0), replica(1), replica(2), replica(2, { specHash: OLDER })], want: ["retire shop-dev-web-2-ccccccc (replacement is ready)"] },
  ])("not done: $name", ({ observed, want }) => {
    expect(step(rollout(), observed())).toEqual({ actions: want, waiting: [], done: false });
  });

  it.each([
    { strategy: "rolling" as const, want: ["retire shop-dev-web-0-bbbbbbb (replacement is ready)"] },
    { strategy: "recreate" as const, want: ["stop shop-dev-web-0-bbbbbbb (recreate: old revision stops first)"] },
  ])("$strategy: not done while an old container runs", ({ strategy, want }) => {
    expect(step(rollout({ strategy, replicas: 1 }), [old(0), replica(0)])).toEqual({ actions: want, waiting: [], done: false });
  });

  it("not done while a new container is not ready, even with nothing to do", () => {
    expect(step(rollout(), [replica(0), replica(1), replica(2, { ready: false })])).toEqual({ actions: [], waiting: [2], done: false });
  });

  it("done: every slot runs a ready new container, old ones stopped", () => {
    const observed = [old(0, { state: "exited", ready: false }), replica(0), old(1, { state: "exited", ready: false }), replica(1), replica(2)];
    expect(step(rollout(), observed)).toEqual({ actions: [], waiting: [], done: true });
  });
});

describe("planRolloutStep: joining the service's name once ready", () => {
  /** A rollout of a service with a health check. */
  const checked = (overrides: Partial<RolloutDesired> = {}) => rollout({ healthCheck: CHECK, ...overrides });
  /** A running, ready new container created outside the service's name that has not joined it yet. */
  const unjoined = (slot: number, overrides: Partial<ReplicaView> = {}) => replica(slot, { joinWhenReady: true, unjoined: true, ...overrides });

  it("3 replicas, maxSurge 1, health check: each new container joins once ready, and only then is its slot's old one retired", () => {
    const observed = play(checked(), oldFleet(3), [
      { ready: [], want: ["create shop-dev-web-0-aaaaaaa (new revision beside the old one)"], waiting: [0], done: false },
      // Ready but outside the name: it joins, and the slot still counts as waiting; the old container keeps serving.
      { ready: [0], want: ["join shop-dev-web-0-aaaaaaa (ready)"], waiting: [0], done: false },
      { ready: [], want: ["create shop-dev-web-1-aaaaaaa (new revision beside the old one)", "retire shop-dev-web-0-bbbbbbb (replacement is ready)"], waiting: [1], done: false },
      { ready: [1], want: ["join shop-dev-web-1-aaaaaaa (ready)"], waiting: [1], done: false },
      { ready: [], want: ["create shop-dev-web-2-aaaaaaa (new revision beside the old one)", "retire shop-dev-web-1-bbbbbbb (replacement is ready)"], waiting: [2], done: false },
      { ready: [2], want: ["join shop-dev-web-2-aaaaaaa (ready)"], waiting: [2], done: false },
      { ready: [], want: ["retire shop-dev-web-2-bbbbbbb (replacement is ready)"], waiting: [], done: false },
      { ready: [], want: [], waiting: [], done: true },
    ]);
    expect(observed.filter((c) => c.specHash === NEW).map((c) => [c.slot, c.joinWhenReady, c.unjoined])).toEqual([
      [0, true, false],
      [1, true, false],
      [2, true, false],
    ]);
  });

  it("a ready new container outside the name is joined; its slot's old container is not retired in the same step", () => {
    const result = planRolloutStep(checked({ replicas: 1 }), [old(0), unjoined(0, { id: "fresh-0" })]);
    expect(result).toEqual({ actions: [{ type: "join", id: "fresh-0", name: "shop-dev-web-0-aaaaaaa", networks: ["shop-dev"], reason: "ready" }], waiting: [0], done: false });
  });

  it("once it has joined, the old container is retired: out of the name, stopped in the background, kept (remove false)", () => {
    const stale = old(0, { id: "old-0" });
    expect(planRolloutStep(checked({ replicas: 1 }), [stale, unjoined(0, { unjoined: false })])).toEqual({
      actions: [{ type: "retire", id: "old-0", name: "shop-dev-web-0-bbbbbbb", slot: 0, networks: ["shop-dev"], remove: false, reason: "replacement is ready" }],
      waiting: [],
      done: false,
    });
  });

  it.each([
    { name: "not ready yet -> waited for, not joined", fresh: () => unjoined(0, { ready: false }), want: [] },
    { name: "created, never started -> started, not joined", fresh: () => unjoined(0, { state: "created", ready: false }), want: ["start shop-dev-web-0-aaaaaaa (new revision not started yet)"] },
  ])("a new container outside the name, $name", ({ fresh, want }) => {
    expect(step(checked({ replicas: 1 }), [old(0), fresh()])).toEqual({ actions: want, waiting: [0], done: false });
  });

  it("the last new container outside the name: not done, and containers beyond the replica count keep serving until it joins", () => {
    expect(step(checked({ replicas: 1 }), [unjoined(0), old(1)])).toEqual({ actions: ["join shop-dev-web-0-aaaaaaa (ready)"], waiting: [0], done: false });
    expect(step(checked({ replicas: 1 }), [unjoined(0, { unjoined: false }), old(1)])).toEqual({ actions: ["retire shop-dev-web-1-bbbbbbb (outside the replica count)"], waiting: [], done: false });
  });

  it.each([
    { name: "with a check, beside a serving old container (surge)", desired: checked({ replicas: 1 }), observed: () => [old(0)], want: { reason: "new revision beside the old one", joinWhenReady: true } },
    {
      name: "with a check, in place of an old container while another slot serves (maxUnavailable)",
      desired: checked({ replicas: 2, maxSurge: 0, maxUnavailable: 1 }),
      observed: () => [old(0), old(1)],
      want: { reason: "new revision in place of the old one", joinWhenReady: true },
    },
    { name: "without a check, beside a serving old container", desired: rollout({ replicas: 1 }), observed: () => [old(0)], want: { reason: "new revision beside the old one" } },
    { name: "with a check, first rollout: nothing serves", desired: checked({ replicas: 1 }), observed: () => [], want: { reason: "new revision" } },
    {
      name: "with a check, in place of the only old container (stopped to make room): nothing else serves",
      desired: checked({ replicas: 1, maxSurge: 0, maxUnavailable: 1 }),
      observed: () => [old(0)],
      want: { reason: "new revision in place of the old one" },
    },
    { name: "with a check, the only old container already retired (still stopping): nothing serves", desired: checked({ replicas: 1 }), observed: () => [old(0, { detached: true, networks: [] })], want: { reason: "new revision" } },
    {
      name: "with a check, in place of an old container while the only other one is outside the name: nothing serves",
      desired: checked({ replicas: 2, maxSurge: 0, maxUnavailable: 2 }),
      observed: () => [unjoined(0, { ready: false }), old(1)],
      want: { reason: "new revision in place of the old one", slot: 1 },
    },
  ])("a create $name: joinWhenReady exactly as the table says", ({ desired, observed, want }) => {
    const { slot = 0, ...fields } = want as typeof want & { slot?: number };
    const create = planRolloutStep(desired, observed()).actions.find((a) => a.type === "create");
    expect(create).toStrictEqual({ type: "create", slot, name: `shop-dev-web-${slot}-aaaaaaa`, revision: NEW, ...fields });
  });
});

describe("planRolloutStep: retired containers still stopping", () => {
  /** An old container a rollout took out of service, still within its stop grace: running, off the service's network. */
  const retired = (slot: number, overrides: Partial<ReplicaView> = {}) => old(slot, { detached: true, networks: [], ...overrides });

  it("neither serves nor counts against the surge: the next slot is begun beside its old container", () => {
    // Slot 0's old container was not ready, so it was retired and replaced without budget; counted, it would spend the one surge slot.
    expect(step(rollout({ replicas: 2 }), [retired(0, { ready: false }), replica(0, { ready: false }), old(1)])).toEqual({
      actions: ["create shop-dev-web-1-aaaaaaa (new revision beside the old one)"],
      waiting: [0, 1],
      done: false,
    });
  });

  it.each([
    { name: "rolling, its slot's new container ready", desired: rollout({ replicas: 1 }), observed: () => [retired(0), replica(0)], want: { actions: [], waiting: [], done: true } },
    { name: "rolling, beyond the replica count", desired: rollout({ replicas: 1 }), observed: () => [replica(0), retired(1)], want: { actions: [], waiting: [], done: true } },
    { name: "recreate, its slot's new container not ready", desired: rollout({ strategy: "recreate", replicas: 1 }), observed: () => [retired(0), replica(0, { ready: false })], want: { actions: [], waiting: [0], done: false } },
    { name: "recreate, beyond the replica count", desired: rollout({ strategy: "recreate", replicas: 1 }), observed: () => [replica(0), retired(1)], want: { actions: [], waiting: [], done: true } },
  ])("is never stopped or retired again and does not hold up done: $name", ({ desired, observed, want }) => {
    expect(step(desired, observed())).toEqual(want);
  });

  it("the same containers still on the network are retired (rolling) or stopped (recreate)", () => {
    expect(step(rollout({ replicas: 1 }), [old(0), replica(0), old(1)]).actions).toEqual(["retire shop-dev-web-0-bbbbbbb (replacement is ready)", "retire shop-dev-web-1-bbbbbbb (outside the replica count)"]);
    expect(step(rollout({ strategy: "recreate", replicas: 1 }), [old(0), replica(0, { ready: false })]).actions).toEqual(["stop shop-dev-web-0-bbbbbbb (recreate: old revision stops first)"]);
  });

  it("makes room with a blocking stop, not a retirement", () => {
    const actions = planRolloutStep(rollout({ replicas: 2, maxSurge: 0, maxUnavailable: 1 }), oldFleet(2)).actions;
    expect(actions.map((a) => a.type)).toEqual(["stop", "create"]);
  });
});

describe("planRolloutStep: idempotence", () => {
  const configs: { name: string; desired: RolloutDesired; stopping?: boolean }[] = [
    { name: "rolling, surge 1", desired: rollout() },
    { name: "rolling, surge 0, unavailable 1", desired: rollout({ maxSurge: 0, maxUnavailable: 1 }) },
    { name: "rolling, surge 2", desired: rollout({ maxSurge: 2 }) },
    { name: "rolling, surge 1, unavailable 2, 5 replicas", desired: rollout({ replicas: 5, maxUnavailable: 2 }) },
    { name: "recreate", desired: rollout({ strategy: "recreate" }) },
    // New containers join the service's name once ready: a join step between each create and the retirement it allows.
    { name: "rolling, surge 1, health check", desired: rollout({ healthCheck: CHECK }) },
    { name: "rolling, surge 0, unavailable 1, health check", desired: rollout({ maxSurge: 0, maxUnavailable: 1, healthCheck: CHECK }) },
    { name: "rolling, surge 1, unavailable 2, 5 replicas, health check", desired: rollout({ replicas: 5, maxUnavailable: 2, healthCheck: CHECK }) },
    // Retired containers still within their stop grace: off the network, running, never waited for.
    { name: "rolling, surge 1, retired containers still stopping", desired: rollout(), stopping: true },
    { name: "rolling, surge 2, health check, retired containers still stopping", desired: rollout({ maxSurge: 2, healthCheck: CHECK }), stopping: true },
  ];

  it.each(configs)("$name: never re-creates a slot that has a fresh container, and a re-plan after applying has only what a join allows", ({ desired, stopping }) => {
    let observed = oldFleet(desired.replicas);
    let steps = 0;
    for (;;) {
      const result = planRolloutStep(desired, observed);
      expect(result.failure).toBeUndefined();
      if (result.done) break;
      const fresh = freshSlots(observed);
      const recreated = result.actions.filter((a) => a.type === "create" && fresh.has(a.slot));
      expect(recreated).toEqual([]);
      // Same input, same plan.
      expect(planRolloutStep(desired, observed)).toEqual(result);
      // Join before retire: no container leaves the name while its slot's new container is outside it.
      for (const a of result.actions) if (a.type === "retire") expect(observed.filter((c) => c.slot === a.slot && c.specHash === desired.specHash && c.unjoined)).toEqual([]);
      // Only the old revision is retired or stopped; only a ready new container joins.
      for (const a of result.actions) if (a.type === "retire" || a.type === "stop") expect(observed.find((c) => c.id === a.id)?.specHash).not.toBe(desired.specHash);
      for (const a of result.actions) if (a.type === "join") expect(observed.find((c) => c.id === a.id)).toMatchObject({ specHash: desired.specHash, ready: true, unjoined: true });
      const joined = new Set(observed.filter((c) => result.actions.some((a) => a.type === "join" && a.id === c.id)).map((c) => c.slot));

      observed = apply(observed, result.actions, desired.specHash, { stopping });
      const again = planRolloutStep(desired, observed);
      if (joined.size === 0) {
        // Nothing changed in Docker since: the step has nothing more to do.
        expect(describeAll(again.actions)).toEqual([]);
      } else {
        // A join puts its slot in service: that, and only that, is new work (the slot's old container retired, the next slot begun), and nothing joins twice.
        const stillServing = observed.filter((c) => c.specHash !== desired.specHash && joined.has(c.slot) && c.state === "running" && !c.detached);
        expect(again.actions.filter((a) => a.type === "retire" && joined.has(a.slot)).map((a) => (a.type === "retire" ? a.id : ""))).toEqual(stillServing.map((c) => c.id));
        expect(again.actions.filter((a) => a.type === "join" || a.type === "start" || a.type === "remove")).toEqual([]);
      }

      if (desired.strategy === "rolling") {
        // A retired container still stopping runs, but outside the service: it neither serves nor counts against the surge.
        const running = observed.filter((c) => c.state === "running" && !c.detached).length;
        const serving = observed.filter((c) => c.state === "running" && c.ready && !c.detached && !c.unjoined).length;
        expect(running).toBeLessThanOrEqual(desired.replicas + desired.maxSurge);
        expect(serving).toBeGreaterThanOrEqual(desired.replicas - desired.maxUnavailable);
      }
      // The health checks of everything started so far pass.
      observed = becomeReady(observed, Array.from({ length: desired.replicas }, (_, slot) => slot));
      expect(++steps).toBeLessThan(20);
    }
    expect(observed.filter((c) => c.state === "running" && !c.detached).map((c) => [c.slot, c.specHash, c.unjoined ?? false]).sort(([a], [b]) => Number(a) - Number(b))).toEqual(
      Array.from({ length: desired.replicas }, (_, slot) => [slot, NEW, false]),
    );
    // Done does not wait for retired containers to finish stopping.
    expect(observed.filter((c) => c.detached && c.state === "running").length).toBe(stopping ? desired.replicas : 0);
    // With a check, every new container created beside serving ones was created outside the name; without one, none.
    expect(observed.filter((c) => c.specHash === NEW && c.joinWhenReady).length > 0).toBe(!!desired.healthCheck);
  });

  it("an interrupted step (stop applied, create not) is completed, not redone", () => {
    const desired = rollout({ maxSurge: 0, maxUnavailable: 1 });
    const observed = [old(0, { state: "exited", ready: false }), old(1), old(2)];
    // Slot 0 serves nothing now: it gets its container without budget, and that uses the one unavailable slot.
    expect(step(desired, observed)).toEqual({ actions: ["create shop-dev-web-0-aaaaaaa (new revision)"], waiting: [0], done: false });
  });

  it("a dead new container is not counted as fresh", () => {
    const result = planRolloutStep(rollout({ replicas: 1, maxSurge: 0, maxUnavailable: 1 }), [old(0), replica(0, { state: "dead", ready: false })]);
    expect(result.actions.filter((a) => a.type === "create").map((a) => a.slot)).toEqual([0]);
  });

  // A dead container keeps its name, the very name the slot's replacement is created under.
  it("never creates a container under a name an existing container still holds", () => {
    const dead = replica(0, { state: "dead", ready: false });
    const observed = [old(0), dead];
    const actions = planRolloutStep(rollout({ replicas: 1 }), observed).actions;
    const create = actions.findIndex((a) => a.type === "create" && a.name === dead.name);
    const removal = actions.findIndex((a) => a.type === "remove" && a.id === dead.id);
    expect(create).toBeGreaterThanOrEqual(0);
    expect(removal, describeAll(actions).join("; ")).toBeGreaterThanOrEqual(0);
    expect(removal).toBeLessThan(create);
  });
});

describe("planRestore", () => {
  const previous = { project: "shop", environment: "dev", service: "web", replicas: 2, specHash: OLD };

  it.each([
    {
      name: "new revision's containers go before the previous revision's stopped ones start",
      observed: () => [old(0, { state: "exited", ready: false }), replica(0), old(1, { state: "exited", ready: false }), replica(1, { ready: false })],
      want: [
        "remove shop-dev-web-0-aaaaaaa (rolled back)",
        "remove shop-dev-web-1-aaaaaaa (rolled back)",
        "start shop-dev-web-0-bbbbbbb (restore the previous revision)",
        "start shop-dev-web-1-bbbbbbb (restore the previous revision)",
      ],
    },
    {
      name: "a never-started previous container is started",
      observed: () => [old(0, { state: "created", ready: false }), old(1)],
      want: ["start shop-dev-web-0-bbbbbbb (restore the previous revision)"],
    },
    {
      name: "slot that lost its previous container -> created from the previous spec",
      observed: () => [old(0, { state: "exited", ready: false }), replica(0), replica(1)],
      want: [
        "remove shop-dev-web-0-aaaaaaa (rolled back)",
        "remove shop-dev-web-1-aaaaaaa (rolled back)",
        "start shop-dev-web-0-bbbbbbb (restore the previous revision)",
        "create shop-dev-web-1-bbbbbbb (restore the previous revision)",
      ],
    },
    {
      name: "nothing at all -> every slot created",
      observed: () => [],
      want: ["create shop-dev-web-0-bbbbbbb (restore the previous revision)", "create shop-dev-web-1-bbbbbbb (restore the previous revision)"],
    },
    {
      name: "containers outside the replica count are removed, whatever their revision",
      observed: () => [old(0), old(1), old(2), replica(3), replica(-1, { name: "stray" })],
      want: ["remove shop-dev-web-2-bbbbbbb (outside the replica count)", "remove shop-dev-web-3-aaaaaaa (outside the replica count)", "remove stray (outside the replica count)"],
    },
    {
      name: "running previous containers are left alone",
      observed: () => [old(0), old(1, { state: "restarting", ready: false })],
      want: [],
    },
    {
      name: "a running previous container stays while the new one beside it goes",
      observed: () => [old(0), replica(0), old(1)],
      want: ["remove shop-dev-web-0-aaaaaaa (rolled back)"],
    },
    {
      name: "containers of an even older revision go too",
      observed: () => [old(0), replica(1, { specHash: OLDER, state: "exited", ready: false }), old(1, { state: "exited", ready: false })],
      want: ["remove shop-dev-web-1-ccccccc (rolled back)", "start shop-dev-web-1-bbbbbbb (restore the previous revision)"],
    },
    {
      name: "a previous container the rollout retired (off the network) is replaced, not started: started, it would be unreachable",
      observed: () => [old(0, { state: "exited", exitCode: 0, ready: false, detached: true, networks: [] }), replica(0), old(1)],
      want: ["remove shop-dev-web-0-aaaaaaa (rolled back)", "remove shop-dev-web-0-bbbbbbb (restore the previous revision: taken out of service)", "create shop-dev-web-0-bbbbbbb (restore the previous revision)"],
    },
    {
      name: "a retired previous container still stopping is replaced too",
      observed: () => [old(0), replica(1), old(1, { detached: true, networks: [] })],
      want: ["remove shop-dev-web-1-aaaaaaa (rolled back)", "remove shop-dev-web-1-bbbbbbb (restore the previous revision: taken out of service)", "create shop-dev-web-1-bbbbbbb (restore the previous revision)"],
    },
    {
      name: "a running previous container outside the service's name joins it",
      observed: () => [old(0, { joinWhenReady: true, unjoined: true }), old(1)],
      want: ["join shop-dev-web-0-bbbbbbb (restore the previous revision)"],
    },
    {
      name: "a never-started previous container outside the name is started first (it joins once it runs)",
      observed: () => [old(0, { state: "created", ready: false, joinWhenReady: true, unjoined: true }), old(1)],
      want: ["start shop-dev-web-0-bbbbbbb (restore the previous revision)"],
    },
    {
      name: "a previous container that has joined is left alone",
      observed: () => [old(0, { joinWhenReady: true, unjoined: false }), old(1)],
      want: [],
    },
  ])("$name", ({ observed, want }) => {
    expect(describeAll(planRestore(previous, observed()))).toEqual(want);
  });

  // The replacement of a retired container is created under the very name the retired one still holds.
  it("a retired previous container is removed before its replacement is created under its name", () => {
    const retired = old(0, { id: "retired", state: "exited", ready: false, detached: true, networks: [] });
    const actions = planRestore({ ...previous, replicas: 1 }, [retired]);
    const removal = actions.findIndex((a) => a.type === "remove" && a.id === "retired");
    const create = actions.findIndex((a) => a.type === "create" && a.name === retired.name);
    expect(create, describeAll(actions).join("; ")).toBeGreaterThan(removal);
    expect(removal).toBeGreaterThanOrEqual(0);
  });

  it("of two previous containers in one slot the newer stays, the older goes", () => {
    const older = old(0, { id: "older", name: "older", state: "exited", ready: false });
    const newer = old(0, { id: "newer", name: "newer", state: "exited", ready: false });
    expect(describeAll(planRestore({ ...previous, replicas: 1 }, [older, newer]))).toEqual(["remove older (duplicate in its replica slot)", "start newer (restore the previous revision)"]);
  });

  it("a dead previous container is removed before its slot is created again", () => {
    const dead = old(0, { state: "dead", ready: false });
    expect(describeAll(planRestore({ ...previous, replicas: 1 }, [dead]))).toEqual(["remove shop-dev-web-0-bbbbbbb (duplicate in its replica slot)", "create shop-dev-web-0-bbbbbbb (restore the previous revision)"]);
  });

  it("removals carry id and slot, so the executor stops and removes the right container", () => {
    const fresh = replica(0, { id: "new-0" });
    expect(planRestore({ ...previous, replicas: 1 }, [old(0), fresh])).toEqual([{ type: "remove", id: "new-0", name: "shop-dev-web-0-aaaaaaa", slot: 0, reason: "rolled back" }]);
  });

  it("restoring after a restore changes nothing (idempotent)", () => {
    let observed: ReplicaView[] = [old(0, { state: "exited", ready: false }), replica(0), replica(1), replica(2)];
    observed = apply(observed, planRestore(previous, observed), OLD);
    expect(planRestore(previous, observed)).toEqual([]);
  });

  it("restoring after a restore of retired and unjoined previous containers changes nothing (idempotent)", () => {
    let observed: ReplicaView[] = [old(0, { state: "exited", ready: false, detached: true, networks: [] }), replica(0), old(1, { joinWhenReady: true, unjoined: true }), replica(1, { ready: false })];
    const first = planRestore(previous, observed);
    expect(first.map((a) => a.type).sort()).toEqual(["create", "join", "remove", "remove", "remove"]);
    observed = apply(observed, first, OLD);
    expect(planRestore(previous, observed)).toEqual([]);
    expect(observed.filter((c) => c.state === "running").map((c) => [c.slot, c.specHash, !!c.detached, !!c.unjoined])).toEqual([
      [1, OLD, false, false],
      [0, OLD, false, false],
    ]);
  });
});

describe("planRolloutStep: a revert to a revision whose container was retired", () => {
  it("replaces the retired container (unreachable off its network) instead of starting it again", () => {
    const retired = replica(0, { state: "exited", detached: true, networks: [] });
    const result = step(rollout({ replicas: 1 }), [retired, old(0)]);
    expect(result.actions).toEqual([`remove ${retired.name} (taken out of service by an earlier rollout)`, "create shop-dev-web-0-aaaaaaa (new revision beside the old one)"]);
    expect(result.done).toBe(false);
  });
});

describe("planCleanup", () => {
  /** A plain observed container, as cleanup takes them (no readiness; detached when a rollout took it out of service). */
  function observedContainer(slot: number, specHash: string, overrides: Partial<ObservedContainer & Pick<ReplicaView, "detached">> = {}): ObservedContainer & Pick<ReplicaView, "detached"> {
    const { ready: _ready, unhealthy: _unhealthy, ...rest } = replica(slot, { specHash, ...overrides });
    return rest;
  }

  it.each([
    {
      name: "stopped old revision containers go, new ones stay",
      desired: { replicas: 2, specHash: NEW },
      observed: () => [observedContainer(0, OLD, { state: "exited" }), observedContainer(0, NEW), observedContainer(1, OLD, { state: "exited" }), observedContainer(1, NEW)],
      want: ["remove shop-dev-web-0-bbbbbbb (old revision, no longer needed for a rollback)", "remove shop-dev-web-1-bbbbbbb (old revision, no longer needed for a rollback)"],
    },
    {
      name: "containers beyond the replica count go, whatever their revision",
      desired: { replicas: 1, specHash: NEW },
      observed: () => [observedContainer(0, NEW), observedContainer(1, NEW), observedContainer(2, OLD), observedContainer(-1, OLD, { name: "stray" })],
      want: ["remove shop-dev-web-1-aaaaaaa (outside the replica count)", "remove shop-dev-web-2-bbbbbbb (outside the replica count)", "remove stray (outside the replica count)"],
    },
    {
      name: "every container of several older revisions goes",
      desired: { replicas: 1, specHash: NEW },
      observed: () => [observedContainer(0, OLDER, { state: "exited" }), observedContainer(0, OLD, { state: "exited" }), observedContainer(0, NEW)],
      want: ["remove shop-dev-web-0-ccccccc (old revision, no longer needed for a rollback)", "remove shop-dev-web-0-bbbbbbb (old revision, no longer needed for a rollback)"],
    },
    {
      name: "nothing to clean",
      desired: { replicas: 2, specHash: NEW },
      observed: () => [observedContainer(0, NEW), observedContainer(1, NEW)],
      want: [],
    },
    {
      name: "a retired old container still stopping is retired to be removed once stopped; one that has stopped is removed",
      desired: { replicas: 2, specHash: NEW },
      observed: () => [observedContainer(0, OLD, { detached: true, networks: [] }), observedContainer(0, NEW), observedContainer(1, OLD, { state: "exited", detached: true, networks: [] }), observedContainer(1, NEW)],
      want: ["retire shop-dev-web-0-bbbbbbb (old revision, no longer needed for a rollback)", "remove shop-dev-web-1-bbbbbbb (old revision, no longer needed for a rollback)"],
    },
    {
      name: "a retired container beyond the replica count still stopping is retired to be removed",
      desired: { replicas: 1, specHash: NEW },
      observed: () => [observedContainer(0, NEW), observedContainer(1, OLD, { detached: true, networks: [] })],
      want: ["retire shop-dev-web-1-bbbbbbb (outside the replica count)"],
    },
    {
      name: "a running old container still on the network (never retired) is removed",
      desired: { replicas: 1, specHash: NEW },
      observed: () => [observedContainer(0, OLD), observedContainer(0, NEW)],
      want: ["remove shop-dev-web-0-bbbbbbb (old revision, no longer needed for a rollback)"],
    },
  ])("$name", ({ desired, observed, want }) => {
    expect(describeAll(planCleanup(desired, observed()))).toEqual(want);
  });

  it("a retired container still stopping is retired again with remove true, carrying id and slot", () => {
    const stopping = observedContainer(0, OLD, { id: "stopping", detached: true, networks: [] });
    expect(planCleanup({ replicas: 1, specHash: NEW }, [stopping, observedContainer(0, NEW)])).toEqual([
      { type: "retire", id: "stopping", name: "shop-dev-web-0-bbbbbbb", slot: 0, networks: [], remove: true, reason: "old revision, no longer needed for a rollback" },
    ]);
  });

  it("keeps the newest container of the revision per slot", () => {
    const older = observedContainer(0, NEW, { id: "older", name: "older" });
    const newer = observedContainer(0, NEW, { id: "newer", name: "newer" });
    expect(planCleanup({ replicas: 1, specHash: NEW }, [newer, older])).toEqual([{ type: "remove", id: "older", name: "older", slot: 0, reason: "old revision, no longer needed for a rollback" }]);
  });

  it("a dead container of the revision goes; the live one in its slot stays", () => {
    const live = observedContainer(0, NEW, { id: "live" });
    const dead = observedContainer(0, NEW, { id: "dead", state: "dead" });
    expect(planCleanup({ replicas: 1, specHash: NEW }, [live, dead]).map((a) => (a.type === "remove" ? a.id : a.type))).toEqual(["dead"]);
  });
});

describe("readiness", () => {
  const desired = { replicas: 2, specHash: NEW };
  it.each([
    { name: "every slot's container ready", observed: () => [replica(0), replica(1)], want: { ready: true } },
    { name: "one not ready yet", observed: () => [replica(0), replica(1, { ready: false })], want: { ready: false } },
    { name: "a slot without one is left to the next step", observed: () => [replica(0)], want: { ready: true } },
    { name: "unhealthy fails", observed: () => [replica(0), replica(1, { ready: false, unhealthy: true })], want: { ready: false, failure: "container shop-dev-web-1-aaaaaaa is unhealthy" } },
    { name: "exited fails with its code", observed: () => [replica(0, { state: "exited", exitCode: 3, ready: false })], want: { ready: false, failure: "container shop-dev-web-0-aaaaaaa exited with code 3" } },
    { name: "old revisions do not count", observed: () => [replica(0), replica(1), old(0, { state: "exited", ready: false })], want: { ready: true } },
    { name: "beyond the replica count does not count", observed: () => [replica(0), replica(1), replica(2, { state: "exited", ready: false })], want: { ready: true } },
  ])("$name", ({ observed, want }) => {
    expect(readiness(desired, observed())).toEqual(want);
  });
});

describe("planRolloutStep: one-shot and crash-looping containers", () => {
  it("a one-shot container that completed counts as done and is never restarted", () => {
    const desired = rollout({ replicas: 1, restartPolicy: "no" });
    const result = step(desired, [replica(0, { state: "exited", exitCode: 0, ready: true, completed: true })]);
    expect(result).toEqual({ actions: [], waiting: [], done: true });
  });

  it("under restart policy no, a container that exited non-zero fails the rollout", () => {
    const result = step(rollout({ replicas: 1, restartPolicy: "no" }), [old(0), replica(0, { state: "exited", exitCode: 2, ready: false })]);
    expect(result.failure).toBe("container shop-dev-web-0-aaaaaaa exited with code 2");
  });

  it("a crash-looping new container fails the rollout", () => {
    const result = step(rollout({ replicas: 1 }), [old(0), replica(0, { state: "restarting", exitCode: 1, ready: false })]);
    expect(result.failure).toBe("container shop-dev-web-0-aaaaaaa keeps restarting (last exit code 1)");
  });

  it("a new attempt removes the containers that failed the last one and starts over", () => {
    const observed = [old(0), replica(0, { unhealthy: true, ready: false })];
    expect(step(rollout({ replicas: 1 }), observed, { replaceFailed: true }).actions).toEqual(["remove shop-dev-web-0-aaaaaaa (failed an earlier attempt)", "create shop-dev-web-0-aaaaaaa (new revision beside the old one)"]);
  });

  it("readiness fails a container that exited on its own, but not a completed one-shot", () => {
    expect(readiness({ replicas: 1, specHash: NEW }, [replica(0, { state: "exited", exitCode: 0, ready: true, completed: true })])).toEqual({ ready: true });
    expect(readiness({ replicas: 1, specHash: NEW }, [replica(0, { state: "restarting", ready: false })]).failure).toContain("keeps restarting");
  });
});
