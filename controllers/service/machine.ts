import { assign, fromPromise, setup } from "xstate";
import { errorOf, messageOf, outputOf } from "../../src/engine/actor-events.ts";
import type { Change } from "../../src/engine/observer.ts";

/** Facts a reconcile reports back; the machine turns them into a phase. */
export interface ServiceFacts {
  desired: number;
  running: number;
  ready: number;
  /** The plan came out empty: Docker already matches the manifest. */
  converged: boolean;
  message: string;
  /** Ask to be reconciled again after this long (waiting on a dependency or health). */
  requeueAfterMs?: number;
  /** What this pass changed in Docker. */
  changes?: Change[];
  /** A rollout owns the containers now; its end queues the service again. */
  rolling?: boolean;
  /** Why the service runs another revision than its manifest asks for (a rollback or a failed rollout). */
  held?: string;
}

export type ServicePhase = "Configured" | "Starting" | "Updating" | "Running" | "Stopping" | "Stopped" | "Failed";

export interface ServiceContext {
  key: string;
  phase: ServicePhase;
  facts?: ServiceFacts;
  error?: string;
  /** The last error cannot be fixed by retrying; wait for a new manifest. */
  terminal: boolean;
}

export type ServiceEvent = { type: "RECONCILE" };

const factsOf = (event: unknown) => outputOf<ServiceFacts>(event);

const notProvided = fromPromise<ServiceFacts, { key: string }>(async () => {
  throw new Error("the reconcile actor was not provided");
});

/** Thrown by a reconcile when only a manifest change can help (missing env file, build context). */
export class TerminalReconcileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalReconcileError";
  }
}

/**
 * Lifecycle of one Service in one Environment:
 * Configured -> Starting -> Running -> Stopping -> Stopped, Updating while a
 * rollout owns the containers, and Failed.
 * Every RECONCILE runs the provided `reconcile` actor; its facts pick the phase.
 */
export const serviceMachine = setup({
  types: {} as { context: ServiceContext; events: ServiceEvent; input: { key: string } },
  actors: { reconcile: notProvided },
  guards: {
    rolling: ({ event }) => !!factsOf(event).rolling,
    stoppedAll: ({ event }) => factsOf(event).desired === 0 && factsOf(event).running === 0,
    stopping: ({ event }) => factsOf(event).desired === 0,
    allReady: ({ event }) => factsOf(event).running >= factsOf(event).desired && factsOf(event).ready >= factsOf(event).desired,
  },
  actions: {
    recordFacts: assign({ facts: ({ event }) => factsOf(event), error: undefined, terminal: false }),
    recordError: assign({
      error: ({ event }) => messageOf(errorOf(event)),
      terminal: ({ event }) => errorOf(event) instanceof TerminalReconcileError,
    }),
    enterPhase: assign({ phase: (_, params: { phase: ServicePhase }) => params.phase }),
  },
}).createMachine({
  id: "service",
  context: ({ input }) => ({ key: input.key, phase: "Configured", terminal: false }),
  initial: "configured",
  on: { RECONCILE: ".reconciling" },
  states: {
    configured: {},
    reconciling: {
      // One reconcile at a time: a request during one is served by the workqueue's next pass.
      on: { RECONCILE: {} },
      invoke: {
        src: "reconcile",
        input: ({ context }) => ({ key: context.key }),
        onDone: [
          { guard: "rolling", target: "updating", actions: "recordFacts" },
          { guard: "stoppedAll", target: "stopped", actions: "recordFacts" },
          { guard: "stopping", target: "stopping", actions: "recordFacts" },
          { guard: "allReady", target: "running", actions: "recordFacts" },
          { target: "starting", actions: "recordFacts" },
        ],
        onError: { target: "failed", actions: "recordError" },
      },
    },
    starting: { entry: { type: "enterPhase", params: { phase: "Starting" } } },
    updating: { entry: { type: "enterPhase", params: { phase: "Updating" } } },
    running: { entry: { type: "enterPhase", params: { phase: "Running" } } },
    stopping: { entry: { type: "enterPhase", params: { phase: "Stopping" } } },
    stopped: { entry: { type: "enterPhase", params: { phase: "Stopped" } } },
    failed: { entry: { type: "enterPhase", params: { phase: "Failed" } } },
  },
});
