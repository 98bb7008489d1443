import { assign, fromPromise, setup } from "xstate";
import { errorOf, messageOf, outputOf } from "../../src/engine/actor-events.ts";
import type { Change } from "../../src/engine/observer.ts";
import type { ServicePhase } from "../service/machine.ts";

/** What an environment reconcile found: its own objects converged, and each service's phase. */
export interface EnvironmentFacts {
  suspended: boolean;
  services: { service: string; phase: ServicePhase }[];
  converged: boolean;
  message: string;
  requeueAfterMs?: number;
  /** What this pass changed in Docker. */
  changes?: Change[];
  /** Volumes the environment uses that exist but were not created by Berth: kept as they are, never pruned. */
  adopted: string[];
}

export type EnvironmentPhase = "Provisioning" | "Healthy" | "Degraded" | "Failed" | "Stopped";

export interface EnvironmentContext {
  key: string;
  phase: EnvironmentPhase;
  /** Reached Healthy at least once: later shortfalls are degradation, not provisioning. */
  everHealthy: boolean;
  facts?: EnvironmentFacts;
  error?: string;
}

const factsOf = (event: unknown) => outputOf<EnvironmentFacts>(event);
const allIn = (facts: EnvironmentFacts, phases: ServicePhase[]) => facts.services.every((s) => phases.includes(s.phase));

const notProvided = fromPromise<EnvironmentFacts, { key: string }>(async () => {
  throw new Error("the reconcile actor was not provided");
});

/**
 * Lifecycle of an Environment: Provisioning until every service runs (or is
 * scaled to zero), then Healthy; Degraded when an environment that was healthy
 * loses a service or one fails; Provisioning while a suspension stops its
 * services, then Stopped; Failed when its own objects (network, volumes)
 * cannot be made.
 */
export const environmentMachine = setup({
  types: {} as { context: EnvironmentContext; events: { type: "RECONCILE" }; input: { key: string } },
  actors: { reconcile: notProvided },
  guards: {
    stopped: ({ event }) => factsOf(event).suspended && allIn(factsOf(event), ["Stopped"]),
    suspending: ({ event }) => factsOf(event).suspended,
    // A service scaled to zero is Stopped, and that is what its manifest asks for.
    healthy: ({ event }) => allIn(factsOf(event), ["Running", "Stopped"]),
    anyFailed: ({ event }) => factsOf(event).services.some((s) => s.phase === "Failed"),
    wasHealthy: ({ context }) => context.everHealthy,
  },
  actions: {
    recordFacts: assign({ facts: ({ event }) => factsOf(event), error: undefined }),
    recordError: assign({ error: ({ event }) => messageOf(errorOf(event)) }),
    enterPhase: assign({ phase: (_, params: { phase: EnvironmentPhase }) => params.phase }),
    markHealthy: assign({ everHealthy: true }),
    forgetHealthy: assign({ everHealthy: false }),
  },
}).createMachine({
  id: "environment",
  context: ({ input }) => ({ key: input.key, phase: "Provisioning", everHealthy: false }),
  initial: "provisioning",
  on: { RECONCILE: ".reconciling" },
  states: {
    reconciling: {
      // One reconcile at a time: a request during one is served by the workqueue's next pass.
      on: { RECONCILE: {} },
      invoke: {
        src: "reconcile",
        input: ({ context }) => ({ key: context.key }),
        onDone: [
          { guard: "stopped", target: "stopped", actions: "recordFacts" },
          { guard: "suspending", target: "provisioning", actions: "recordFacts" },
          { guard: "healthy", target: "healthy", actions: "recordFacts" },
          { guard: "anyFailed", target: "degraded", actions: "recordFacts" },
          { guard: "wasHealthy", target: "degraded", actions: "recordFacts" },
          { target: "provisioning", actions: "recordFacts" },
        ],
        onError: { target: "failed", actions: "recordError" },
      },
    },
    provisioning: { entry: { type: "enterPhase", params: { phase: "Provisioning" } } },
    healthy: { entry: [{ type: "enterPhase", params: { phase: "Healthy" } }, "markHealthy"] },
    degraded: { entry: { type: "enterPhase", params: { phase: "Degraded" } } },
    // After a suspension, coming back up is provisioning again, not degradation.
    stopped: { entry: [{ type: "enterPhase", params: { phase: "Stopped" } }, "forgetHealthy"] },
    failed: { entry: { type: "enterPhase", params: { phase: "Failed" } } },
  },
});
