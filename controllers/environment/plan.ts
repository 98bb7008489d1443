import type { Observed } from "../../src/docker/observe.ts";
import type { DesiredEnvironment } from "../../src/desired/model.ts";
import type { Change } from "../../src/engine/observer.ts";
import type { PlanChange } from "../../src/engine/plan-change.ts";

/** One step on an environment's shared objects: networks, volumes, and containers no manifest declares. */
export type EnvironmentAction =
  | { type: "create-network"; name: string; reason: string }
  | { type: "remove-network"; id: string; name: string; reason: string }
  | { type: "create-volume"; name: string; reason: string }
  | { type: "remove-volume"; name: string; reason: string }
  | { type: "remove-container"; id: string; name: string; service: string; reason: string };

export interface EnvironmentPlanOptions {
  /** False while any manifest is invalid: nothing is pruned from an incomplete picture. */
  allowPrune: boolean;
}

/**
 * Networks and volumes to create, and what to prune. `desired` undefined means
 * the environment is gone from the manifests. Volumes are removed only when the
 * environment asks for it with pruneVolumes, never because it disappeared, and
 * only labelled ones: an adopted volume is neither created nor removed.
 */
export function planEnvironment(desired: DesiredEnvironment | undefined, observed: Observed, options: EnvironmentPlanOptions): EnvironmentAction[] {
  const actions: EnvironmentAction[] = [];
  const networks = new Map(observed.networks.map((n) => [n.name, n]));
  // Creating a volume that exists under that name would succeed without labelling it, every pass.
  const volumes = new Set([...observed.volumes.map((v) => v.name), ...(observed.adoptedVolumes ?? [])]);

  if (desired) {
    for (const name of [desired.network, ...desired.extraNetworks]) {
      if (!networks.has(name)) actions.push({ type: "create-network", name, reason: "declared by the environment" });
    }
    // On a Swarm cluster a volume lives on the node a task runs on: Swarm makes it there, with the labels the mount carries.
    if (!desired.swarm) for (const name of desired.volumes) if (!volumes.has(name)) actions.push({ type: "create-volume", name, reason: "mounted by a service" });
  }
  if (!options.allowPrune) return actions;

  const services = new Set(desired?.services.map((s) => s.service) ?? []);
  const why = desired ? "service no longer declared" : "environment no longer declared";
  for (const c of observed.containers) {
    if (!services.has(c.service)) actions.push({ type: "remove-container", id: c.id, name: c.name, service: c.service, reason: why });
  }
  // A container that stays (an old revision kept for a rollback, one still rolling out) keeps what it uses until it goes.
  const staying = observed.containers.filter((c) => services.has(c.service));
  const inUse = new Set(staying.flatMap((c) => [...c.networks, ...c.volumes]));
  const wantedNetworks = new Set(desired ? [desired.network, ...desired.extraNetworks] : []);
  for (const n of observed.networks) {
    if (!wantedNetworks.has(n.name) && !inUse.has(n.name)) actions.push({ type: "remove-network", id: n.id, name: n.name, reason: desired ? "network no longer declared" : why });
  }
  if (desired?.pruneVolumes) {
    const wantedVolumes = new Set(desired.volumes);
    // Labelled volumes only: Docker cannot relabel a volume, so an adopted one stays someone else's.
    for (const v of observed.volumes) if (!wantedVolumes.has(v.name) && !inUse.has(v.name)) actions.push({ type: "remove-volume", name: v.name, reason: "not mounted by any service and pruneVolumes is on" });
  }
  return actions;
}

/**
 * Networks and volumes no longer declared that are kept only because an old
 * revision's containers still use them: a rollout's clean-up releases them and
 * a later pass prunes them. `plan` lists them as deletions now.
 */
export function releasedLater(desired: DesiredEnvironment | undefined, observed: Observed, options: EnvironmentPlanOptions): EnvironmentAction[] {
  if (!desired || !options.allowPrune) return [];
  const current = new Map(desired.services.map((s) => [s.service, s.specHash]));
  const staying = observed.containers.filter((c) => current.has(c.service));
  const byCurrent = new Set(staying.filter((c) => c.specHash === current.get(c.service)).flatMap((c) => [...c.networks, ...c.volumes]));
  const byOld = new Set(staying.filter((c) => c.specHash !== current.get(c.service)).flatMap((c) => [...c.networks, ...c.volumes]));
  const released = (name: string) => byOld.has(name) && !byCurrent.has(name);
  const wantedNetworks = new Set([desired.network, ...desired.extraNetworks]);
  const actions: EnvironmentAction[] = [];
  for (const n of observed.networks) if (!wantedNetworks.has(n.name) && released(n.name)) actions.push({ type: "remove-network", id: n.id, name: n.name, reason: "network no longer declared, once the old revision's containers are gone" });
  if (desired.pruneVolumes) {
    const wantedVolumes = new Set(desired.volumes);
    for (const v of observed.volumes) if (!wantedVolumes.has(v.name) && released(v.name)) actions.push({ type: "remove-volume", name: v.name, reason: "not mounted by any service and pruneVolumes is on, once the old revision's containers are gone" });
  }
  return actions;
}

/**
 * The environment's volumes that exist but were not created by Berth: used as
 * they are, data kept, never pruned (as docker compose treats an external
 * volume). A volume with Berth's labels is Berth's, even if also reported adopted.
 */
export function adoptedVolumes(desired: DesiredEnvironment | undefined, observed: Observed): string[] {
  if (!desired || !observed.adoptedVolumes?.length) return [];
  const adopted = new Set(observed.adoptedVolumes);
  const labelled = new Set(observed.volumes.map((v) => v.name));
  return desired.volumes.filter((name) => adopted.has(name) && !labelled.has(name));
}

/** How a status message mentions adopted volumes; empty when there are none. */
export function describeAdoptedVolumes(names: readonly string[]): string {
  if (!names.length) return "";
  return names.length === 1
    ? `volume ${names[0]} adopted (created outside Berth, kept as it is)`
    : `volumes ${names.join(", ")} adopted (created outside Berth, kept as they are)`;
}

/** What an action says about Docker versus the spec, for drift records. */
export function environmentChange(action: EnvironmentAction): Change {
  const [verb, kind] = action.type.split("-") as [string, string];
  return verb === "create" ? { path: `${kind} ${action.name}`, observed: "absent", desired: "present" } : { path: `${kind} ${action.name}`, observed: "present", desired: `absent (${action.reason})` };
}

/**
 * What an environment's actions mean for `plan`: a network or volume created
 * or removed, and each pruned service as one deletion.
 */
export function planChanges(environment: string, actions: readonly EnvironmentAction[]): PlanChange[] {
  const changes: PlanChange[] = [];
  const seen = new Set<string>();
  for (const action of actions) {
    const resource = resourceOf(environment, action);
    if (seen.has(resource)) continue;
    seen.add(resource);
    const create = action.type.startsWith("create");
    const fields = action.type.endsWith("network") ? ["spec.network"] : action.type.endsWith("volume") ? ["spec.volumes"] : [];
    changes.push({ resource, action: create ? "create" : "delete", strategy: null, reason: action.reason, fields });
  }
  return changes;
}

/** The resource an action changes, as `plan` names it and the audit log's reason starts: a pruned container is its service's. */
export function resourceOf(environment: string, action: EnvironmentAction): string {
  if (action.type === "remove-container") return `Service/${environment}/${action.service}`;
  return `${action.type.endsWith("network") ? "Network" : "Volume"}/${action.name}`;
}

/** One line per action, as `berth plan` prints it. */
export function describeEnvironmentAction(action: EnvironmentAction): string {
  const [verb, kind] = action.type.split("-") as [string, string];
  return `${verb} ${kind} ${action.name} (${action.reason})`;
}
