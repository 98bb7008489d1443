import { assign, setup } from "xstate";
import type { EnvironmentPhase } from "../environment/machine.ts";

export type ProjectPhase = "Progressing" | "Ready" | "Degraded" | "Stopped";

export interface ProjectContext {
  name: string;
  phase: ProjectPhase;
  environments: Record<string, EnvironmentPhase>;
}

export type ProjectEvent = { type: "ENVIRONMENTS"; environments: Record<string, EnvironmentPhase> };

const phases = (e: ProjectEvent) => Object.values(e.environments);

/**
 * A Project aggregates its environments: Ready when all are healthy, Degraded
 * when any is degraded or failed, Stopped when all are stopped, else Progressing.
 * It makes no Docker calls of its own.
 */
export const projectMachine = setup({
  types: {} as { context: ProjectContext; events: ProjectEvent; input: { name: string } },
  guards: {
    allStopped: ({ event }) => phases(event).length > 0 && phases(event).every((p) => p === "Stopped"),
    anyBad: ({ event }) => phases(event).some((p) => p === "Degraded" || p === "Failed"),
    allHealthy: ({ event }) => phases(event).length > 0 && phases(event).every((p) => p === "Healthy" || p === "Stopped"),
  },
  actions: {
    record: assign({ environments: ({ event }) => event.environments }),
    enterPhase: assign({ phase: (_, params: { phase: ProjectPhase }) => params.phase }),
  },
}).createMachine({
  id: "project",
  context: ({ input }) => ({ name: input.name, phase: "Progressing", environments: {} }),
  initial: "progressing",
  on: {
    ENVIRONMENTS: [
      { guard: "allStopped", target: ".stopped", actions: "record" },
      { guard: "anyBad", target: ".degraded", actions: "record" },
      { guard: "allHealthy", target: ".ready", actions: "record" },
      { target: ".progressing", actions: "record" },
    ],
  },
  states: {
    progressing: { entry: { type: "enterPhase", params: { phase: "Progressing" } } },
    ready: { entry: { type: "enterPhase", params: { phase: "Ready" } } },
    degraded: { entry: { type: "enterPhase", params: { phase: "Degraded" } } },
    stopped: { entry: { type: "enterPhase", params: { phase: "Stopped" } } },
  },
});
