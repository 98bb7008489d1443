import { describe, expect, it } from "vitest";
import { createActor, fromPromise, waitFor } from "xstate";
import type { ServicePhase } from "../service/machine.ts";
import { environmentMachine, type EnvironmentFacts, type EnvironmentPhase } from "./machine.ts";
import { reconcileOnce, scriptedReconcile, type Outcome } from "../../test/support/scripted-reconcile.ts";

const KEY = "shop/dev";

/** Facts for an environment whose services are in the given phases (web, api, db, ...). */
function facts(suspended: boolean, ...phases: ServicePhase[]): EnvironmentFacts {
  const names = ["web", "api", "db", "worker"];
  return {
    suspended,
    services: phases.map((phase, i) => ({ service: names[i] ?? `svc${i}`, phase })),
    converged: true,
    message: phases.join(", "),
    adopted: [],
  };
}
const live = (...phases: ServicePhase[]) => facts(false, ...phases);
const suspended = (...phases: ServicePhase[]) => facts(true, ...phases);

/** A started environment actor whose reconciles play the given outcomes in order. */
function start(...outcomes: Outcome<EnvironmentFacts>[]) {
  const { actor: reconcile, inputs } = scriptedReconcile(outcomes);
  return { actor: createActor(environmentMachine.provide({ actors: { reconcile } }), { input: { key: KEY } }).start(), inputs };
}

type EnvironmentActor = ReturnType<typeof start>["actor"];

/** Sends RECONCILE and waits for the reconcile to settle; returns the context. */
async function reconcile(actor: EnvironmentActor) {
  return (await reconcileOnce(actor)).context;
}

/** Runs every outcome through a fresh actor and returns the phase after each reconcile. */
async function phasesAfter(...outcomes: Outcome<EnvironmentFacts>[]) {
  const { actor } = start(...outcomes);
  const phases: EnvironmentPhase[] = [];
  for (let i = outcomes.length; i > 0; i--) phases.push((await reconcile(actor)).phase);
  return phases;
}

describe("environmentMachine", () => {
  it("starts Provisioning, never healthy, with no facts and no error", () => {
    const { actor, inputs } = start();
    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe("provisioning");
    expect(snapshot.context).toEqual({ key: KEY, phase: "Provisioning", everHealthy: false });
    expect(inputs).toEqual([]);
  });

  it.each([
    { name: "suspended, every service Stopped", facts: suspended("Stopped", "Stopped"), phase: "Stopped" },
    { name: "suspended, no services", facts: suspended(), phase: "Stopped" },
    { name: "not suspended, every service Running", facts: live("Running", "Running", "Running"), phase: "Healthy" },
    { name: "not suspended, one service scaled to zero (Stopped), others Running", facts: live("Running", "Stopped", "Running"), phase: "Healthy" },
    { name: "not suspended, every service scaled to zero (Stopped)", facts: live("Stopped", "Stopped"), phase: "Healthy" },
    { name: "not suspended, no services", facts: live(), phase: "Healthy" },
    { name: "one service Failed among Running", facts: live("Running", "Failed"), phase: "Degraded" },
    { name: "one service Failed among Starting", facts: live("Starting", "Failed"), phase: "Degraded" },
    { name: "suspended, one service Failed", facts: suspended("Stopped", "Failed"), phase: "Provisioning" },
    { name: "suspended, a service still Stopping", facts: suspended("Stopped", "Stopping"), phase: "Provisioning" },
    { name: "suspended, every service still Running", facts: suspended("Running", "Running"), phase: "Provisioning" },
    { name: "a service Stopped among Starting", facts: live("Stopped", "Starting"), phase: "Provisioning" },
    { name: "never healthy, a service still Starting", facts: live("Running", "Starting"), phase: "Provisioning" },
    { name: "never healthy, a service still Configured", facts: live("Configured", "Running"), phase: "Provisioning" },
  ] satisfies { name: string; facts: EnvironmentFacts; phase: EnvironmentPhase }[])("first reconcile: $name -> $phase", async ({ facts: reported, phase }) => {
    const { actor, inputs } = start(reported);
    const context = await reconcile(actor);
    expect(context).toEqual({ key: KEY, phase, everHealthy: phase === "Healthy", facts: reported });
    expect(actor.getSnapshot().value).toBe(phase.toLowerCase());
    expect(inputs).toEqual([{ key: KEY }]);
  });

  it("keeps the previous phase while a reconcile is in flight", async () => {
    const { actor } = start(live("Running"), live("Starting"));
    await reconcile(actor);
    actor.send({ type: "RECONCILE" });
    expect(actor.getSnapshot().value).toBe("reconciling");
    expect(actor.getSnapshot().context.phase).toBe("Healthy");
  });

  it.each([
    { name: "a service Starting again", next: live("Running", "Starting") },
    { name: "a service back to Configured", next: live("Running", "Configured") },
  ])("Healthy -> Degraded when $name", async ({ next }) => {
    expect(await phasesAfter(live("Running", "Running"), next)).toEqual(["Healthy", "Degraded"]);
  });

  it.each([
    { name: "stays Degraded while a service is still Starting", outcomes: [live("Running"), live("Starting"), live("Starting")], want: ["Healthy", "Degraded", "Degraded"] },
    { name: "recovers to Healthy once everything runs again", outcomes: [live("Running"), live("Failed"), live("Running")], want: ["Healthy", "Degraded", "Healthy"] },
    { name: "never healthy: Degraded by a failure, then Starting -> Provisioning", outcomes: [live("Failed"), live("Starting")], want: ["Degraded", "Provisioning"] },
    { name: "once healthy: Degraded by a failure, then Starting -> still Degraded", outcomes: [live("Running"), live("Failed"), live("Starting")], want: ["Healthy", "Degraded", "Degraded"] },
    { name: "Healthy -> Failed (reconcile error) -> a service Starting -> Degraded", outcomes: [live("Running", "Running"), { throws: new Error("network shop_dev: gone") }, live("Running", "Starting")], want: ["Healthy", "Failed", "Degraded"] },
    { name: "never healthy: Failed (reconcile error) -> a service Starting -> Provisioning", outcomes: [{ throws: new Error("network shop_dev: gone") }, live("Running", "Starting")], want: ["Failed", "Provisioning"] },
    { name: "Healthy with a service scaled to zero stays Healthy", outcomes: [live("Running", "Running"), live("Running", "Stopped")], want: ["Healthy", "Healthy"] },
    { name: "suspending a Healthy environment: Provisioning while services stop, then Stopped", outcomes: [live("Running", "Running"), suspended("Stopping", "Running"), suspended("Stopped", "Stopping"), suspended("Stopped", "Stopped")], want: ["Healthy", "Provisioning", "Provisioning", "Stopped"] },
    { name: "suspending a Healthy environment with a Failed service: Provisioning, then Stopped", outcomes: [live("Running", "Running"), suspended("Stopping", "Failed"), suspended("Stopped", "Stopped")], want: ["Healthy", "Provisioning", "Stopped"] },
    { name: "Provisioning -> Healthy once everything runs", outcomes: [live("Starting", "Running"), live("Running", "Running")], want: ["Provisioning", "Healthy"] },
    // Stopped forgets the earlier health: coming back from a suspension is provisioning again.
    { name: "suspend and resume after Healthy: Healthy -> Stopped -> Provisioning -> Healthy", outcomes: [live("Running"), suspended("Stopped"), live("Starting"), live("Running")], want: ["Healthy", "Stopped", "Provisioning", "Healthy"] },
    { name: "suspend and resume, never Healthy: Provisioning -> Stopped -> Provisioning -> Healthy", outcomes: [live("Starting"), suspended("Stopped"), live("Starting"), live("Running")], want: ["Provisioning", "Stopped", "Provisioning", "Healthy"] },
  ] satisfies { name: string; outcomes: Outcome<EnvironmentFacts>[]; want: EnvironmentPhase[] }[])("$name", async ({ outcomes, want }) => {
    expect(await phasesAfter(...outcomes)).toEqual(want);
  });

  it.each([
    { name: "an Error", thrown: new Error("network shop_dev: address pool exhausted"), error: "network shop_dev: address pool exhausted" },
    { name: "a non-Error value", thrown: "docker unreachable", error: "docker unreachable" },
  ])("reconcile throwing $name -> Failed with the message", async ({ thrown, error }) => {
    const { actor } = start({ throws: thrown });
    const context = await reconcile(actor);
    expect(actor.getSnapshot().value).toBe("failed");
    expect(context).toEqual({ key: KEY, phase: "Failed", everHealthy: false, error });
  });

  it("fails with a clear message when no reconcile actor is provided", async () => {
    const actor = createActor(environmentMachine, { input: { key: KEY } }).start();
    const context = await reconcile(actor);
    expect(context.phase).toBe("Failed");
    expect(context.error).toBe("the reconcile actor was not provided");
  });

  it("keeps the last facts on failure and clears the error on the next success", async () => {
    const healthy = live("Running");
    const { actor } = start(healthy, { throws: new Error("volume shop_dev_data: permission denied") }, healthy);
    await reconcile(actor);
    expect(await reconcile(actor)).toEqual({ key: KEY, phase: "Failed", everHealthy: true, facts: healthy, error: "volume shop_dev_data: permission denied" });
    const context = await reconcile(actor);
    expect(context).toEqual({ key: KEY, phase: "Healthy", everHealthy: true, facts: healthy });
    expect(context.error).toBeUndefined();
  });

  it("remembers it was Healthy through later phases, until a suspension stops it", async () => {
    const { actor } = start(live("Starting"), live("Running"), live("Failed"), { throws: new Error("boom") }, suspended("Stopped"));
    const seen: [EnvironmentPhase, boolean][] = [];
    for (let i = 0; i < 5; i++) {
      const { phase, everHealthy } = await reconcile(actor);
      seen.push([phase, everHealthy]);
    }
    expect(seen).toEqual([
      ["Provisioning", false],
      ["Healthy", true],
      ["Degraded", true],
      ["Failed", true],
      ["Stopped", false],
    ]);
  });

  it("ignores RECONCILE during a reconcile: the running one is not restarted and its result is used", async () => {
    const calls: { resolve: (facts: EnvironmentFacts) => void; signal: AbortSignal }[] = [];
    const machine = environmentMachine.provide({
      actors: {
        reconcile: fromPromise<EnvironmentFacts, { key: string }>(({ signal }) => new Promise((resolve) => calls.push({ resolve, signal }))),
      },
    });
    const actor = createActor(machine, { input: { key: KEY } }).start();
    actor.send({ type: "RECONCILE" });
    actor.send({ type: "RECONCILE" });
    actor.send({ type: "RECONCILE" });
    expect(actor.getSnapshot().value).toBe("reconciling");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.signal.aborted).toBe(false);

    const reported = live("Running", "Stopped");
    calls[0]?.resolve(reported);
    const { context } = await waitFor(actor, (s) => !s.matches("reconciling"));
    expect(actor.getSnapshot().value).toBe("healthy");
    expect(context).toEqual({ key: KEY, phase: "Healthy", everHealthy: true, facts: reported });
    expect(calls).toHaveLength(1);
  });

  const into: Record<EnvironmentPhase, Outcome<EnvironmentFacts>[]> = {
    Provisioning: [],
    Healthy: [live("Running")],
    Degraded: [live("Failed")],
    Stopped: [suspended("Stopped")],
    Failed: [{ throws: new Error("boom") }],
  };

  it.each(Object.entries(into) as [EnvironmentPhase, Outcome<EnvironmentFacts>[]][])("accepts RECONCILE from %s", async (from, setup) => {
    const next = from === "Stopped" ? live("Failed") : suspended("Stopped");
    const { actor, inputs } = start(...setup, next);
    for (let i = 0; i < setup.length; i++) await reconcile(actor);
    expect(actor.getSnapshot().context.phase).toBe(from);

    const context = await reconcile(actor);
    expect(context.phase).toBe(from === "Stopped" ? "Degraded" : "Stopped");
    expect(context.facts).toEqual(next);
    expect(inputs).toHaveLength(setup.length + 1);
  });
});
