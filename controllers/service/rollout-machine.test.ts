import { describe, expect, it } from "vitest";
import { advanceRollout, rolloutMachine, rolloutOutcome, startRollout, type RolloutEvent, type RolloutInput, type RolloutRecord, type RolloutState } from "./rollout-machine.ts";

const KEY = "Service/production/web";
const REVISION = "a".repeat(64);
const PREVIOUS = "b".repeat(64);
const NEWER = "c".repeat(64);
const TIMEOUT_MS = 30_000;
const T0 = 1_700_000_000_000;

const INPUT: RolloutInput = { key: KEY, revision: REVISION, manifestRevision: REVISION, previous: PREVIOUS, autoRollback: true, healthTimeoutMs: TIMEOUT_MS, trigger: "manifest", deploymentId: 42, startedAt: T0 };

/** INPUT with overrides; an override to undefined leaves the field out, as a stored record would. */
function inputWith(overrides: Partial<RolloutInput>): RolloutInput {
  return Object.fromEntries(Object.entries({ ...INPUT, ...overrides }).filter(([, value]) => value !== undefined)) as unknown as RolloutInput;
}

/** A new rollout's record after the given events, in order. */
function play(events: RolloutEvent[], overrides: Partial<RolloutInput> = {}): RolloutRecord {
  return events.reduce(advanceRollout, startRollout(inputWith(overrides)));
}

/** Every record along the way: the start, then one per event. */
function trail(events: RolloutEvent[], overrides: Partial<RolloutInput> = {}): RolloutRecord[] {
  const records = [startRollout(inputWith(overrides))];
  for (const event of events) records.push(advanceRollout(records.at(-1)!, event));
  return records;
}

const IMAGE_READY: RolloutEvent = { type: "IMAGE_READY" };
const stepped = (waiting: number[], now = T0, done = false): RolloutEvent => ({ type: "STEPPED", done, waiting, now });
const DONE = (now = T0): RolloutEvent => ({ type: "STEPPED", done: true, waiting: [], now });
const READY: RolloutEvent = { type: "READY" };
const FAILED = (failure: string): RolloutEvent => ({ type: "FAILED", failure });
const TIMED_OUT = (failure: string): RolloutEvent => ({ type: "TIMED_OUT", failure });
const CLEANED: RolloutEvent = { type: "CLEANED" };
const RESTORED = (now = T0): RolloutEvent => ({ type: "RESTORED", now });
const ROLLBACK_FAILED = (error: string): RolloutEvent => ({ type: "ROLLBACK_FAILED", error });
const ROLLED_BACK: RolloutEvent = { type: "ROLLED_BACK" };
const SUPERSEDE = (by: string): RolloutEvent => ({ type: "SUPERSEDE", by });

/** Events that bring a fresh rollout (with INPUT) into each in-flight state. */
const into: Record<"building" | "deploying" | "healthCheck" | "completing" | "rollingBack" | "verifyingRollback", RolloutEvent[]> = {
  building: [],
  deploying: [IMAGE_READY],
  healthCheck: [IMAGE_READY, stepped([0, 1])],
  completing: [IMAGE_READY, DONE()],
  rollingBack: [IMAGE_READY, stepped([0]), FAILED("container web-0 is unhealthy")],
  verifyingRollback: [IMAGE_READY, stepped([0]), FAILED("container web-0 is unhealthy"), RESTORED()],
};

/** Events that bring a fresh rollout into each final state. */
const intoFinal: Record<"complete" | "stalled" | "rolledBack" | "rollbackFailed" | "superseded", { events: RolloutEvent[]; overrides?: Partial<RolloutInput> }> = {
  complete: { events: [IMAGE_READY, DONE(), CLEANED] },
  stalled: { events: [FAILED("pull web:2: manifest unknown")], overrides: { previous: undefined } },
  rolledBack: { events: [...into.verifyingRollback, ROLLED_BACK] },
  rollbackFailed: { events: [...into.rollingBack, ROLLBACK_FAILED("start container: port 8080 already allocated")] },
  superseded: { events: [SUPERSEDE(NEWER)] },
};

describe("startRollout", () => {
  it("starts in building, phase Building, no steps, nothing waiting, the input kept whole", () => {
    expect(startRollout(INPUT)).toEqual({ state: "building", context: { ...INPUT, phase: "Building", steps: 0, waiting: [] } });
  });

  it("has no deadline, failure or rollback error yet", () => {
    const { context } = startRollout(INPUT);
    expect(context.deadline).toBeUndefined();
    expect(context.failure).toBeUndefined();
    expect(context.rollbackError).toBeUndefined();
  });
});

describe("advanceRollout: happy path", () => {
  it("building -> deploying -> healthCheck -> deploying -> completing -> complete", () => {
    const records = trail([IMAGE_READY, stepped([0], T0 + 1_000), READY, DONE(T0 + 5_000), CLEANED]);
    expect(records.map((r) => [r.state, r.context.phase])).toEqual([
      ["building", "Building"],
      ["deploying", "Deploying"],
      ["healthCheck", "HealthCheck"],
      ["deploying", "Deploying"],
      ["completing", "Complete"],
      ["complete", "Complete"],
    ]);
    const last = records.at(-1)!.context;
    expect(last).toMatchObject({ ...INPUT, steps: 2, waiting: [] });
    expect(last.failure).toBeUndefined();
    expect(rolloutOutcome(records.at(-1)!.state)).toBe("success");
  });

  it.each([
    { name: "first step, one slot waiting", events: [IMAGE_READY], step: stepped([0], T0 + 1_000), want: { state: "healthCheck", steps: 1, waiting: [0], deadline: T0 + 1_000 + TIMEOUT_MS } },
    { name: "second step, two slots waiting", events: [IMAGE_READY, stepped([0]), READY], step: stepped([1, 2], T0 + 9_000), want: { state: "healthCheck", steps: 2, waiting: [1, 2], deadline: T0 + 9_000 + TIMEOUT_MS } },
    { name: "a step that is done", events: [IMAGE_READY, stepped([0]), READY], step: DONE(T0 + 20_000), want: { state: "completing", steps: 2, waiting: [], deadline: T0 + 20_000 + TIMEOUT_MS } },
    { name: "done at the first step (nothing to change)", events: [IMAGE_READY], step: DONE(T0), want: { state: "completing", steps: 1, waiting: [], deadline: T0 + TIMEOUT_MS } },
  ])("STEPPED records the step: $name", ({ events, step, want }) => {
    const { state, context } = advanceRollout(play(events), step);
    expect({ state, steps: context.steps, waiting: context.waiting, deadline: context.deadline }).toEqual(want);
  });

  it("the health deadline follows healthTimeoutMs", () => {
    expect(play([IMAGE_READY, stepped([0], T0)], { healthTimeoutMs: 90_000 }).context.deadline).toBe(T0 + 90_000);
  });

  it("every STEPPED gives the wait the full timeout again", () => {
    const first = play([IMAGE_READY, stepped([0], T0)]);
    const second = play([IMAGE_READY, stepped([0], T0), READY, stepped([1], T0 + 25_000)]);
    expect(first.context.deadline).toBe(T0 + TIMEOUT_MS);
    expect(second.context.deadline).toBe(T0 + 25_000 + TIMEOUT_MS);
  });
});

describe("advanceRollout: failures", () => {
  it.each([
    { from: "building", event: FAILED("image web:2 is not on DeploymentTarget/local"), failure: "image web:2 is not on DeploymentTarget/local" },
    { from: "deploying", event: FAILED("container web-1 keeps restarting (last exit code 1)"), failure: "container web-1 keeps restarting (last exit code 1)" },
    { from: "healthCheck", event: FAILED("container web-0 is unhealthy"), failure: "container web-0 is unhealthy" },
    { from: "healthCheck", event: TIMED_OUT("slot(s) 0, 1 not ready within 30 s"), failure: "slot(s) 0, 1 not ready within 30 s" },
  ] as const)("$from + $event.type, autoRollback and a previous revision -> rollingBack", ({ from, event, failure }) => {
    const { state, context } = advanceRollout(play(into[from]), event);
    expect(state).toBe("rollingBack");
    expect(context).toMatchObject({ phase: "RollingBack", failure });
    expect(context.rollbackError).toBeUndefined();
    expect(rolloutOutcome(state)).toBeUndefined();
  });

  it.each([
    { name: "no previous revision", overrides: { previous: undefined } },
    { name: "autoRollback off", overrides: { autoRollback: false } },
    { name: "previous === revision (a retry of the running revision)", overrides: { previous: REVISION } },
  ])("$name -> stalled, phase Failed, from every state that can fail", ({ overrides }) => {
    const cases = [
      { from: "building", event: FAILED, failure: "build failed: exit 2" },
      { from: "deploying", event: FAILED, failure: "container web-0 exited with code 1" },
      { from: "healthCheck", event: FAILED, failure: "container web-0 is unhealthy" },
      { from: "healthCheck", event: TIMED_OUT, failure: "slot(s) 0 not ready within 30 s" },
    ] as const;
    for (const { from, event, failure } of cases) {
      const record = advanceRollout(play(into[from], overrides), event(failure));
      expect({ from, event: event(failure).type, state: record.state, phase: record.context.phase, failure: record.context.failure }).toEqual({ from, event: event(failure).type, state: "stalled", phase: "Failed", failure });
      expect(rolloutOutcome(record.state)).toBe("failed");
    }
  });

  it("a record never rests in the transient failed state", () => {
    const states = [FAILED("x"), TIMED_OUT("y")].map((event) => advanceRollout(play(into.healthCheck), event).state);
    expect(states).not.toContain("failed");
  });
});

describe("advanceRollout: rollback", () => {
  it("rollingBack + RESTORED -> verifyingRollback, still phase RollingBack, deadline from now", () => {
    const { state, context } = advanceRollout(play(into.rollingBack), RESTORED(T0 + 60_000));
    expect(state).toBe("verifyingRollback");
    expect(context).toMatchObject({ phase: "RollingBack", failure: "container web-0 is unhealthy", deadline: T0 + 60_000 + TIMEOUT_MS });
  });

  it("the rollback deadline follows healthTimeoutMs", () => {
    expect(play([...into.rollingBack, RESTORED(T0 + 1)], { healthTimeoutMs: 5_000 }).context.deadline).toBe(T0 + 1 + 5_000);
  });

  it("verifyingRollback + ROLLED_BACK -> rolledBack, phase RolledBack, the original failure kept", () => {
    const { state, context } = advanceRollout(play(into.verifyingRollback), ROLLED_BACK);
    expect(state).toBe("rolledBack");
    expect(context).toMatchObject({ phase: "RolledBack", failure: "container web-0 is unhealthy" });
    expect(context.rollbackError).toBeUndefined();
    expect(rolloutOutcome(state)).toBe("rolled_back");
  });

  it.each([
    { from: "rollingBack", error: "image web:1 of revision bbbbbbbbbbbb is no longer on DeploymentTarget/local" },
    { from: "verifyingRollback", error: "previous revision not ready within 30 s" },
  ] as const)("$from + ROLLBACK_FAILED -> rollbackFailed, phase Failed, error and original failure kept", ({ from, error }) => {
    const { state, context } = advanceRollout(play(into[from]), ROLLBACK_FAILED(error));
    expect(state).toBe("rollbackFailed");
    expect(context).toMatchObject({ phase: "Failed", failure: "container web-0 is unhealthy", rollbackError: error });
    expect(rolloutOutcome(state)).toBe("failed");
  });

  it("a failure straight from building rolls back too", () => {
    const records = trail([FAILED("pull web:2: manifest unknown"), RESTORED(T0), ROLLED_BACK]);
    expect(records.map((r) => r.state)).toEqual(["building", "rollingBack", "verifyingRollback", "rolledBack"]);
    expect(records.at(-1)!.context.failure).toBe("pull web:2: manifest unknown");
  });
});

describe("advanceRollout: SUPERSEDE", () => {
  it.each(["building", "deploying", "healthCheck", "rollingBack", "verifyingRollback"] as const)("from %s -> superseded, phase Failed, by a newer revision", (from) => {
    const { state, context } = advanceRollout(play(into[from]), SUPERSEDE(NEWER));
    expect(state).toBe("superseded");
    expect(context).toMatchObject({ phase: "Failed", failure: `superseded by revision ${"c".repeat(12)}` });
    expect(rolloutOutcome(state)).toBe("failed");
  });

  it.each([
    { by: "the environment was suspended", failure: "superseded: the environment was suspended" },
    { by: "the service was removed from the manifests", failure: "superseded: the service was removed from the manifests" },
    // Not a full revision hash: said as it is.
    { by: "c".repeat(12), failure: `superseded: ${"c".repeat(12)}` },
  ])("by '$by' -> failure '$failure'", ({ by, failure }) => {
    expect(advanceRollout(play(into.deploying), SUPERSEDE(by)).context.failure).toBe(failure);
  });

  it("completing is not superseded: it succeeded and only cleans up", () => {
    const record = play(into.completing);
    expect(advanceRollout(record, SUPERSEDE(NEWER))).toEqual(record);
  });
});

describe("advanceRollout: events a state does not take", () => {
  const ignored: { from: keyof typeof into; events: RolloutEvent[] }[] = [
    { from: "building", events: [stepped([0]), READY, TIMED_OUT("t"), CLEANED, RESTORED(), ROLLBACK_FAILED("e"), ROLLED_BACK] },
    { from: "deploying", events: [IMAGE_READY, READY, TIMED_OUT("t"), CLEANED, RESTORED(), ROLLBACK_FAILED("e"), ROLLED_BACK] },
    { from: "healthCheck", events: [IMAGE_READY, stepped([1]), CLEANED, RESTORED(), ROLLBACK_FAILED("e"), ROLLED_BACK] },
    { from: "completing", events: [IMAGE_READY, stepped([1]), READY, FAILED("f"), TIMED_OUT("t"), RESTORED(), ROLLBACK_FAILED("e"), ROLLED_BACK, SUPERSEDE(NEWER)] },
    { from: "rollingBack", events: [IMAGE_READY, stepped([1]), READY, FAILED("f"), TIMED_OUT("t"), CLEANED, ROLLED_BACK] },
    { from: "verifyingRollback", events: [IMAGE_READY, stepped([1]), READY, FAILED("f"), TIMED_OUT("t"), CLEANED, RESTORED(T0 + 99_000)] },
  ];

  it.each(ignored)("$from keeps its record", ({ from, events }) => {
    const record = play(into[from]);
    for (const event of events) expect(advanceRollout(record, event), event.type).toEqual(record);
  });

  const everyEvent: RolloutEvent[] = [IMAGE_READY, stepped([0]), DONE(), READY, FAILED("f"), TIMED_OUT("t"), CLEANED, RESTORED(), ROLLBACK_FAILED("e"), ROLLED_BACK, SUPERSEDE(NEWER)];

  it.each(Object.entries(intoFinal))("final %s takes no event", (_, { events, overrides }) => {
    const record = play(events, overrides);
    expect(rolloutOutcome(record.state)).toBeDefined();
    for (const event of everyEvent) expect(advanceRollout(record, event), event.type).toEqual(record);
  });
});

describe("records are plain JSON: a restart resumes", () => {
  const paths: { name: string; events: RolloutEvent[]; overrides?: Partial<RolloutInput> }[] = [
    { name: "happy path", events: [IMAGE_READY, stepped([0], T0 + 1), READY, stepped([1], T0 + 2), READY, DONE(T0 + 3), CLEANED] },
    { name: "health failure and rollback", events: [IMAGE_READY, stepped([0], T0 + 1), FAILED("container web-0 is unhealthy"), RESTORED(T0 + 2), ROLLED_BACK] },
    { name: "timeout and a failed rollback", events: [IMAGE_READY, stepped([0, 1], T0 + 1), TIMED_OUT("slot(s) 0, 1 not ready within 30 s"), RESTORED(T0 + 2), ROLLBACK_FAILED("previous revision not ready within 30 s")] },
    { name: "failure without a previous revision", events: [IMAGE_READY, FAILED("container web-0 exited with code 1")], overrides: { previous: undefined } },
    { name: "superseded while checking health", events: [IMAGE_READY, stepped([0], T0 + 1), SUPERSEDE(NEWER)] },
  ];

  it.each(paths)("$name: every record survives a JSON round trip and advances the same", ({ events, overrides }) => {
    const records = trail(events, overrides);
    records.forEach((record, i) => {
      const stored = JSON.parse(JSON.stringify(record)) as RolloutRecord;
      expect(stored, `record ${i} (${record.state})`).toStrictEqual(record);
      const event = events[i];
      if (event) expect(advanceRollout(stored, event), `${record.state} + ${event.type}`).toStrictEqual(records[i + 1]);
    });
  });

  it("advancing does not change the record it is given", () => {
    const record = play(into.healthCheck);
    const before = JSON.stringify(record);
    advanceRollout(record, FAILED("container web-0 is unhealthy"));
    advanceRollout(record, READY);
    expect(JSON.stringify(record)).toBe(before);
  });

  it("a record rebuilt by hand from stored fields advances like the original", () => {
    const original = play(into.healthCheck);
    const rebuilt: RolloutRecord = { state: "healthCheck", context: { ...INPUT, phase: "HealthCheck", steps: 1, waiting: [0, 1], deadline: T0 + TIMEOUT_MS } };
    expect(rebuilt).toStrictEqual(original);
    expect(advanceRollout(rebuilt, READY)).toStrictEqual(advanceRollout(original, READY));
  });
});

describe("rolloutOutcome", () => {
  it.each([
    { state: "complete", outcome: "success" },
    { state: "rolledBack", outcome: "rolled_back" },
    { state: "stalled", outcome: "failed" },
    { state: "rollbackFailed", outcome: "failed" },
    { state: "superseded", outcome: "failed" },
    { state: "building", outcome: undefined },
    { state: "deploying", outcome: undefined },
    { state: "healthCheck", outcome: undefined },
    { state: "completing", outcome: undefined },
    { state: "failed", outcome: undefined },
    { state: "rollingBack", outcome: undefined },
    { state: "verifyingRollback", outcome: undefined },
  ] satisfies { state: RolloutState | "failed"; outcome: ReturnType<typeof rolloutOutcome> }[])("$state -> $outcome", ({ state, outcome }) => {
    expect(rolloutOutcome(state)).toBe(outcome);
  });

  it("maps every final state of the machine to an outcome, and no other", () => {
    const states = Object.entries(rolloutMachine.config.states ?? {});
    const finals = states.filter(([, s]) => s.type === "final").map(([name]) => name);
    expect(finals.sort()).toEqual(["complete", "rollbackFailed", "rolledBack", "stalled", "superseded"]);
    for (const [name] of states) expect(rolloutOutcome(name) !== undefined, name).toBe(finals.includes(name));
  });

  it.each(Object.entries(intoFinal))("%s is reached by its events and ends the rollout", (state, { events, overrides }) => {
    expect(play(events, overrides).state).toBe(state);
  });
});
