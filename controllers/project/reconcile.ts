import type { Controller, PassContext, PassResult } from "../../src/engine/controller.ts";
import { environmentKey } from "../../src/desired/names.ts";
import { projectPhase } from "./phase.ts";

/** A Project's pass reads its environments' last phases; it never touches Docker. */
export async function reconcileProject(key: string, ctx: PassContext): Promise<PassResult> {
  const name = key.slice("Project/".length);
  const environments = [...ctx.model().environments.values()].filter((e) => e.project === name);
  const phases = environments.map((e) => ctx.status(environmentKey(e.environment))?.phase ?? "Provisioning");
  const phase = projectPhase(phases);
  return { phase, message: `${environments.length} environment(s)`, ready: phase === "Ready" || phase === "Stopped", converged: true, changes: [], specHash: name, plan: [] };
}

export const projectController: Controller = {
  kind: "Project",
  reconcile: reconcileProject,
  targetOf: () => undefined,
};
