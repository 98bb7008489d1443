import { observe } from "../../src/docker/observe.ts";
import type { ReconcileDeps } from "../../src/engine/deps.ts";
import { executeEnvironmentActions } from "../../src/engine/execute.ts";
import type { EnvironmentFacts } from "./machine.ts";
import { planEnvironment } from "./plan.ts";

/** Converges an Environment's network and volumes and prunes what no manifest declares; safe to repeat. */
export async function reconcileEnvironment(key: string, deps: ReconcileDeps): Promise<EnvironmentFacts> {
  const name = key.slice("Environment/".length);
  const model = deps.model();
  const desired = model.environments.get(name);
  const owner = desired ?? deps.orphan(name);
  if (!owner) return { suspended: false, services: [], converged: true, message: "not declared and nothing left to remove" };

  const driver = deps.driver(owner.target);
  const scope = { key, project: owner.project, environment: name };
  const observed = await observe(driver, { project: owner.project, environment: name });
  const actions = planEnvironment(desired, observed, { allowPrune: model.complete });
  await executeEnvironmentActions(driver, scope, desired, actions, deps.log);
  // New networks and volumes unblock services waiting for them.
  if (desired && actions.some((a) => a.type.startsWith("create"))) for (const s of desired.services) deps.enqueue(s.key);

  const services = (desired?.services ?? []).map((s) => ({ service: s.service, phase: deps.servicePhase(s.key) ?? "Configured" }));
  const pruneBlocked = !model.complete && (!desired || observed.containers.some((c) => !desired.services.some((s) => s.service === c.service)));
  const message = pruneBlocked
    ? "manifests have errors: nothing is pruned until they are fixed"
    : `${services.filter((s) => s.phase === "Running").length}/${services.length} services running`;
  // After a change, look again to confirm it (level-triggered); the next pass is normally a no-op.
  return { suspended: desired?.suspended ?? false, services, converged: actions.length === 0, message, requeueAfterMs: actions.length ? 200 : undefined };
}
