import { describe, expect, it } from "vitest";
import { createActor, fromPromise, waitFor } from "xstate";
import { serviceMachine, TerminalReconcileError, type ServiceFacts, type ServicePhase } from "./machine.ts";
import { reconcileOnce, scriptedReconcile, type Outcome } from "../../test/support/scripted-reconcile.ts";

const KEY = "shop/dev/web";

function facts(desired: number, running: number, ready: number): ServiceFacts {
  return { desired, running, ready, converged: running === desired && ready === desired, message: `${ready}/${desired} ready` };
}

/** A started service actor whose reconciles play the given outcomes in order. */
function start(...outcomes: Outcome<ServiceFacts>[]) {
  const { actor: reconcile, inputs } = scriptedReconcile(outcomes);
  return { actor: createActor(serviceMachine.provide({ actors: { reconcile } }), { input: { key: KEY } }).start(), inputs };
}

type ServiceActor = ReturnType<typeof start>["actor"];

/** Sends RECONCILE and waits for the reconcile to settle; returns the context. */
async function reconcile(actor: ServiceActor) {
  return (await reconcileOnce(actor)).context;
}

const phaseCases: { name: string; facts: ServiceFacts; phase: ServicePhase; state: string }[] = [
  { name: "desired 0, running 0", facts: facts(0, 0, 0), phase: "Stopped", state: "stopped" },
  { name: "desired 0, one still running", facts: facts(0, 1, 1), phase: "Stopping", state: "stopping" },
  { name: "desired 0, running but none ready", facts: facts(0, 2, 0), phase: "Stopping", state: "stopping" },
  { name: "all running and ready", facts: facts(2, 2, 2), phase: "Running", state: "running" },
  { name: "more running and ready than desired", facts: facts(1, 3, 3), phase: "Running", state: "running" },
  { name: "nothing running yet", facts: facts(2, 0, 0), phase: "Starting", state: "starting" },
  { name: "fewer running than desired", facts: facts(3, 2, 2), phase: "Starting", state: "starting" },
  { name: "all running, not all ready", facts: facts(2, 2, 1), phase: "Starting", state: "starting" },
];

describe("serviceMachine", () => {
  it("starts Configured with no facts and no error", () => {
    const { actor, inputs } = start();
    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe("configured");
    expect(snapshot.context).toEqual({ key: KEY, phase: "Configured", terminal: false });
    expect(inputs).toEqual([]);
  });

  it.each(phaseCases)("reconcile with $name -> $phase", async ({ facts: reported, phase, state }) => {
    const { actor, inputs } = start(reported);
    const context = await reconcile(actor);
    expect(actor.getSnapshot().value).toBe(state);
    expect(context).toEqual({ key: KEY, phase, facts: reported, terminal: false });
    expect(inputs).toEqual([{ key: KEY }]);
  });

  it("keeps the previous phase while a reconcile is in flight", async () => {
    const { actor } = start(facts(1, 1, 1), facts(0, 0, 0));
    actor.send({ type: "RECONCILE" });
    expect(actor.getSnapshot().context.phase).toBe("Configured");
    await waitFor(actor, (s) => s.context.phase === "Running");
    actor.send({ type: "RECONCILE" });
    expect(actor.getSnapshot().value).toBe("reconciling");
    expect(actor.getSnapshot().context.phase).toBe("Running");
  });

  it.each([
    { name: "an Error", thrown: new Error("image pull failed"), error: "image pull failed", terminal: false },
    { name: "a TerminalReconcileError", thrown: new TerminalReconcileError("env file .env.web is missing"), error: "env file .env.web is missing", terminal: true },
    { name: "a non-Error value", thrown: "socket hang up", error: "socket hang up", terminal: false },
  ])("reconcile throwing $name -> Failed, terminal $terminal", async ({ thrown, error, terminal }) => {
    const { actor } = start({ throws: thrown });
    const context = await reconcile(actor);
    expect(actor.getSnapshot().value).toBe("failed");
    expect(context).toEqual({ key: KEY, phase: "Failed", error, terminal });
  });

  it("fails with a clear message when no reconcile actor is provided", async () => {
    const actor = createActor(serviceMachine, { input: { key: KEY } }).start();
    const context = await reconcile(actor);
    expect(context.phase).toBe("Failed");
    expect(context.error).toBe("the reconcile actor was not provided");
    expect(context.terminal).toBe(false);
  });

  it("keeps the last facts when a reconcile fails", async () => {
    const running = facts(1, 1, 1);
    const { actor } = start(running, { throws: new Error("docker unreachable") });
    await reconcile(actor);
    const context = await reconcile(actor);
    expect(context.phase).toBe("Failed");
    expect(context.facts).toEqual(running);
    expect(context.error).toBe("docker unreachable");
  });

  it.each(phaseCases)("a successful reconcile after a terminal failure clears the error and goes $phase ($name)", async ({ facts: reported, phase }) => {
    const { actor } = start({ throws: new TerminalReconcileError("build context missing") }, reported);
    expect(await reconcile(actor)).toMatchObject({ phase: "Failed", error: "build context missing", terminal: true });
    const context = await reconcile(actor);
    expect(context).toEqual({ key: KEY, phase, facts: reported, terminal: false });
    expect(context.error).toBeUndefined();
  });

  const into: Record<ServicePhase, Outcome<ServiceFacts>[]> = {
    Configured: [],
    Starting: [facts(1, 0, 0)],
    Updating: [{ ...facts(1, 1, 1), rolling: true }],
    Running: [facts(1, 1, 1)],
    Stopping: [facts(0, 1, 1)],
    Stopped: [facts(0, 0, 0)],
    Failed: [{ throws: new Error("boom") }],
  };

  it.each(Object.entries(into) as [ServicePhase, Outcome<ServiceFacts>[]][])("accepts RECONCILE from %s", async (from, setup) => {
    const next = from === "Running" ? facts(0, 0, 0) : facts(1, 1, 1);
    const { actor, inputs } = start(...setup, next);
    for (let i = 0; i < setup.length; i++) await reconcile(actor);
    expect(actor.getSnapshot().context.phase).toBe(from);

    const context = await reconcile(actor);
    expect(context.phase).toBe(from === "Running" ? "Stopped" : "Running");
    expect(context.facts).toEqual(next);
    expect(inputs).toHaveLength(setup.length + 1);
  });

  it("ignores RECONCILE during a reconcile: the actor is invoked once and its result decides the phase", async () => {
    const calls: { input: { key: string }; resolve: (facts: ServiceFacts) => void; signal: AbortSignal }[] = [];
    const machine = serviceMachine.provide({
      actors: {
        reconcile: fromPromise<ServiceFacts, { key: string }>(({ input, signal }) => new Promise((resolve) => calls.push({ input, resolve, signal }))),
      },
    });
    const actor = createActor(machine, { input: { key: KEY } }).start();
    actor.send({ type: "RECONCILE" });
    actor.send({ type: "RECONCILE" });
    actor.send({ type: "RECONCILE" });
    expect(actor.getSnapshot().value).toBe("reconciling");
    expect(calls.map((c) => c.input)).toEqual([{ key: KEY }]);
    expect(calls[0]?.signal.aborted).toBe(false);

    calls[0]?.resolve(facts(0, 0, 0));
    const { context } = await waitFor(actor, (s) => !s.matches("reconciling"));
    expect(actor.getSnapshot().value).toBe("stopped");
    expect(context).toEqual({ key: KEY, phase: "Stopped", facts: facts(0, 0, 0), terminal: false });
    expect(calls).toHaveLength(1);
  });

  it("walks a whole lifecycle: Starting -> Running -> Stopping -> Stopped -> Starting", async () => {
    const { actor } = start(facts(2, 1, 0), facts(2, 2, 2), facts(0, 1, 0), facts(0, 0, 0), facts(1, 0, 0));
    const phases: ServicePhase[] = [];
    for (let i = 0; i < 5; i++) phases.push((await reconcile(actor)).phase);
    expect(phases).toEqual(["Starting", "Running", "Stopping", "Stopped", "Starting"]);
  });
});
