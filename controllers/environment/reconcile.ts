import { observe } from "../../src/docker/observe.ts";
import { hashOf } from "../../src/desired/hash.ts";
import type { DesiredModel } from "../../src/desired/model.ts";
import type { Controller, OrphanEnvironment, PassContext, PassResult } from "../../src/engine/controller.ts";
import { TargetUnavailableError } from "../../src/engine/errors.ts";
import type { Change } from "../../src/engine/observer.ts";
import type { PlanChange } from "../../src/engine/plan-change.ts";
import { finishComposeTakeover, type ComposeTakeover } from "./adopt.ts";
import { executeEnvironmentActions } from "./execute.ts";
import { removeSwarmServices } from "./swarm.ts";
import { environmentPhase } from "./phase.ts";
import { adoptedVolumes, describeAdoptedVolumes, environmentChange, planChanges, planEnvironment, releasedLater, type EnvironmentAction } from "./plan.ts";

/**
 * Converges an Environment's network and volumes, prunes what no manifest
 * declares, and clears copies of it left on other targets or projects; safe to
 * repeat. With ctx.dryRun it decides the same and only records.
 */
export async function reconcileEnvironment(key: string, ctx: PassContext): Promise<PassResult> {
  const name = key.slice("Environment/".length);
  const model = ctx.model();
  const desired = model.environments.get(name);
  const hadOrphans = ctx.orphans(name).length > 0;
  const changes: Change[] = [];
  const plan: PlanChange[] = [];
  let pruneBlocked = false;
  let adopted: string[] = [];
  let created = false;
  let releasing = false;
  let takeover: ComposeTakeover | undefined;

  const act = async (owner: OrphanEnvironment, actions: EnvironmentAction[]) => {
    plan.push(...planChanges(name, actions));
    if (ctx.dryRun) {
      for (const a of actions) if (a.type === "create-network") ctx.dryRun.assumed.networks.push(a.name);
      for (const a of actions) if (a.type === "create-volume") ctx.dryRun.assumed.volumes.push(a.name);
      return;
    }
    await executeEnvironmentActions(ctx.driver(owner.target), { key, project: owner.project, environment: name }, owner === desired ? desired : undefined, actions, ctx.log);
    changes.push(...actions.map(environmentChange));
  };

  if (desired) {
    const observed = await observe(ctx.driver(desired.target), { project: desired.project, environment: name }, desired.volumes);
    adopted = adoptedVolumes(desired, observed);
    const actions = planEnvironment(desired, observed, { allowPrune: model.complete });
    await act(desired, actions);
    // What a rollout's clean-up releases is pruned by a later pass (plan says so now): not converged until then.
    const later = releasedLater(desired, observed, { allowPrune: model.complete });
    releasing = later.length > 0;
    if (ctx.dryRun) plan.push(...planChanges(name, later));
    created = actions.some((a) => a.type.startsWith("create"));
    pruneBlocked = !model.complete && observed.containers.some((c) => !desired.services.some((s) => s.service === c.service));
    if (desired.adoptCompose) {
      takeover = await finishComposeTakeover(ctx.driver(desired.target), desired.adoptCompose, { dryRun: !!ctx.dryRun, key });
      for (const network of takeover.networks) {
        plan.push({ resource: `Network/${network}`, action: "delete", strategy: null, reason: `network of the adopted compose project ${desired.adoptCompose}: nothing uses it`, fields: [] });
        if (!ctx.dryRun) changes.push({ path: `network ${network}`, observed: "present (compose's)", desired: "absent" });
      }
    }
  }

  for (const owner of ctx.orphans(name)) {
    let driver;
    try {
      driver = ctx.driver(owner.target);
    } catch (error) {
      if (error instanceof TargetUnavailableError) continue; // tried again when its target connects
      throw error;
    }
    if (model.complete && model.targets.get(owner.target)?.spec.type === "swarm") {
      plan.push(...(await removeSwarmServices(driver, { target: owner.target, project: owner.project, environment: name }, { dryRun: !!ctx.dryRun, log: ctx.log })));
    }
    const observed = await observe(driver, { project: owner.project, environment: name });
    await act(owner, planEnvironment(undefined, observed, { allowPrune: model.complete }));
    const blocked = !model.complete && observed.containers.length + observed.networks.length > 0;
    pruneBlocked ||= blocked;
    if (!blocked && !ctx.dryRun) ctx.forgetOrphan(name, owner);
  }

  const services = (desired?.services ?? []).map((s) => ({ service: s.service, phase: ctx.status(s.key)?.phase ?? "Configured" }));
  const everHealthy = ctx.status(key)?.result?.memo?.everHealthy === true;
  const { phase, everHealthy: nowHealthy } = environmentPhase({ suspended: desired?.suspended ?? false, services }, false, everHealthy);
  const base = pruneBlocked
    ? "manifests have errors: nothing is pruned until they are fixed"
    : desired
      ? `${services.filter((s) => s.phase === "Running").length}/${services.length} services running`
      : "not declared; its containers and networks were removed";
  const adoptedNote = [describeAdoptedVolumes(adopted), takeover?.remaining ? `taking over compose project ${desired?.adoptCompose}: ${takeover.remaining} of its container(s) still to replace` : ""].filter(Boolean).join("; ");
  return {
    phase,
    message: adoptedNote ? `${base}; ${adoptedNote}` : base,
    ready: phase === "Healthy" || phase === "Stopped",
    converged: changes.length === 0 && plan.length === 0 && !releasing && !takeover?.remaining,
    changes,
    // After a change, look again to confirm it (level-triggered); the next pass is normally a no-op.
    // While the Services replace compose's containers, look every 2 s for the moment its networks can go.
    requeueAfterMs: changes.length ? 200 : takeover?.remaining ? 2_000 : undefined,
    specHash: specHashOf(name, model, ctx.orphans(name)),
    // New networks and volumes unblock services waiting for them.
    enqueue: created ? (desired?.services.map((s) => s.key) ?? []) : [],
    dependents: desired ? [`Project/${desired.project}`] : [],
    plan,
    memo: { everHealthy: nowHealthy, adopted },
    // Declared nowhere and left nowhere: nothing to keep a status for.
    gone: !desired && !hadOrphans,
  };
}

/** What an environment's pass converges toward, to tell drift from a new spec. */
function specHashOf(name: string, model: DesiredModel, orphans: OrphanEnvironment[]): string {
  const environment = model.environments.get(name);
  if (!environment) return hashOf({ absent: true, orphans, complete: model.complete });
  const { network, extraNetworks, volumes, pruneVolumes, suspended, target, project } = environment;
  return hashOf({ network, extraNetworks, volumes, pruneVolumes, suspended, target, project, orphans, complete: model.complete, services: environment.services.map((s) => s.service) });
}

export const environmentController: Controller = {
  kind: "Environment",
  reconcile: reconcileEnvironment,
  targetOf: (key, ctx) => {
    const name = key.slice("Environment/".length);
    return ctx.model().environments.get(name)?.target ?? ctx.orphans(name)[0]?.target;
  },
};
