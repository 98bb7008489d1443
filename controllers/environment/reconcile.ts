import { observe } from "../../src/docker/observe.ts";
import type { OrphanEnvironment, ReconcileDeps } from "../../src/engine/deps.ts";
import { executeEnvironmentActions } from "../../src/engine/execute.ts";
import type { Change } from "../../src/engine/observer.ts";
import { TargetUnavailableError } from "../../src/engine/target-unavailable.ts";
import type { EnvironmentFacts } from "./machine.ts";
import { adoptedVolumes, describeAdoptedVolumes, environmentChange, planEnvironment } from "./plan.ts";

/**
 * Converges an Environment's network and volumes, prunes what no manifest
 * declares, and clears copies of it left on other targets or projects; safe to repeat.
 */
export async function reconcileEnvironment(key: string, deps: ReconcileDeps): Promise<EnvironmentFacts> {
  const name = key.slice("Environment/".length);
  const model = deps.model();
  const desired = model.environments.get(name);
  const changes: Change[] = [];
  let pruneBlocked = false;
  let adopted: string[] = [];

  if (desired) {
    const driver = deps.driver(desired.target);
    const scope = { key, project: desired.project, environment: name };
    const observed = await observe(driver, { project: desired.project, environment: name }, desired.volumes);
    adopted = adoptedVolumes(desired, observed);
    const actions = planEnvironment(desired, observed, { allowPrune: model.complete });
    await executeEnvironmentActions(driver, scope, desired, actions, deps.log);
    changes.push(...actions.map(environmentChange));
    // New networks and volumes unblock services waiting for them.
    if (actions.some((a) => a.type.startsWith("create"))) for (const s of desired.services) deps.enqueue(s.key);
    pruneBlocked = !model.complete && observed.containers.some((c) => !desired.services.some((s) => s.service === c.service));
  }

  for (const owner of deps.orphans(name)) {
    const pruned = await pruneOrphan(key, name, owner, deps, model.complete);
    if (pruned === undefined) continue; // its target is not connected: tried again when it is
    changes.push(...pruned.changes);
    pruneBlocked ||= pruned.blocked;
    if (!pruned.blocked) deps.forgetOrphan(name, owner);
  }

  const services = (desired?.services ?? []).map((s) => ({ service: s.service, phase: deps.servicePhase(s.key) ?? "Configured" }));
  const message = pruneBlocked
    ? "manifests have errors: nothing is pruned until they are fixed"
    : desired
      ? `${services.filter((s) => s.phase === "Running").length}/${services.length} services running`
      : "not declared; its containers and networks were removed";
  const adoptedNote = describeAdoptedVolumes(adopted);
  // After a change, look again to confirm it (level-triggered); the next pass is normally a no-op.
  return { suspended: desired?.suspended ?? false, services, converged: changes.length === 0, message: adoptedNote ? `${message}; ${adoptedNote}` : message, requeueAfterMs: changes.length ? 200 : undefined, changes, adopted };
}

async function pruneOrphan(key: string, name: string, owner: OrphanEnvironment, deps: ReconcileDeps, allowPrune: boolean): Promise<{ changes: Change[]; blocked: boolean } | undefined> {
  let driver;
  try {
    driver = deps.driver(owner.target);
  } catch (error) {
    if (error instanceof TargetUnavailableError) return undefined;
    throw error;
  }
  const observed = await observe(driver, { project: owner.project, environment: name });
  const actions = planEnvironment(undefined, observed, { allowPrune });
  await executeEnvironmentActions(driver, { key, project: owner.project, environment: name }, undefined, actions, deps.log);
  return { changes: actions.map(environmentChange), blocked: !allowPrune && observed.containers.length + observed.networks.length > 0 };
}
