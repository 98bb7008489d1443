import type { ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService, ImageSource } from "../../src/desired/model.ts";
import type { HealthCheck } from "../../src/manifests/types.ts";
import { containerName } from "../../src/desired/names.ts";
import type { Change } from "../../src/engine/observer.ts";

/** One step that brings a service's containers closer to the manifest. */
export type ServiceAction =
  | { type: "pull"; ref: string; reason: string }
  | { type: "build"; ref: string; reason: string }
  /** joinWhenReady: created outside the service's name (its aliases), joined by a `join` once ready. */
  | { type: "create"; slot: number; name: string; revision: string; reason: string; joinWhenReady?: boolean }
  /** A ready container created outside the service's name takes its aliases on its networks: from now on it gets requests. */
  | { type: "join"; id: string; name: string; networks: readonly string[]; reason: string }
  /** Off its networks (out of the service's name) at once, then stopped (and removed) without waiting for its grace period. */
  | { type: "retire"; id: string; name: string; slot: number; networks: readonly string[]; remove: boolean; reason: string }
  | { type: "start"; id: string; name: string; reason: string }
  | { type: "stop"; id: string; name: string; reason: string }
  | { type: "remove"; id: string; name: string; slot: number; reason: string }
  /** Built images of the service beyond the newest few, that no container and no recent revision uses. */
  | { type: "prune-images"; reason: string }
  /** The containers Berth's prober checks for this service (none: stop probing). */
  | { type: "probe"; checks: ReadonlyMap<string, HealthCheck | undefined>; network: string; containers: ObservedContainer[] };

export type ServiceDesired = Pick<DesiredService, "project" | "environment" | "service" | "replicas" | "suspended" | "specHash" | "strategy" | "restartPolicy">;

const STOPPED = new Set(["created", "exited", "dead"]);

/**
 * Whether Berth should start a stopped container of the current spec. A
 * container never started is started. An exited one is started again only
 * under a policy that restarts (someone stopped it); under `no` and
 * `on-failure` an exit is the container's own outcome, and Docker's policy
 * decides about restarts, so a crashing job cannot be restarted in a loop.
 */
function shouldStart(c: ObservedContainer, restartPolicy: ServiceDesired["restartPolicy"]): boolean {
  if (c.state === "created") return true;
  return restartPolicy === "always" || restartPolicy === "unless-stopped";
}

/** A container that ran to completion under a policy that does not restart it. */
export function completed(c: ObservedContainer, restartPolicy: ServiceDesired["restartPolicy"]): boolean {
  return c.state === "exited" && c.exitCode === 0 && (restartPolicy === "no" || restartPolicy === "on-failure");
}

/**
 * Containers to create, start, stop or remove so that every replica slot runs
 * exactly one container of the desired spec. Pure: same input, same plan.
 */
export function planService(desired: ServiceDesired, observed: readonly ObservedContainer[], network?: string): ServiceAction[] {
  const actions: ServiceAction[] = [];
  // A container of another revision that a rollout retired is leaving on its own: nothing more to do with it.
  const byNewest = observed.filter((c) => !c.retiring || c.specHash === desired.specHash).sort((a, b) => b.created - a.created || a.name.localeCompare(b.name));
  const detached = (c: ObservedContainer) => !!network && !c.networks.includes(network);

  if (desired.suspended) {
    for (const c of byNewest) if (!STOPPED.has(c.state)) actions.push({ type: "stop", id: c.id, name: c.name, reason: "environment suspended" });
    return actions;
  }

  for (let slot = 0; slot < desired.replicas; slot++) {
    const inSlot = byNewest.filter((c) => c.slot === slot);
    const current = inSlot.find((c) => c.specHash === desired.specHash);
    const others = inSlot.filter((c) => c !== current);
    if (current) {
      if (current.state === "dead") {
        actions.push(removal(current, "container is dead"));
        actions.push(create(desired, slot, "replace dead container"));
      } else if (detached(current)) {
        // Taken out of service by a rollout (kept for a rollback): started again it would be unreachable.
        actions.push(removal(current, `not on network ${network}`));
        actions.push(create(desired, slot, "replace a container taken out of service"));
      } else if (STOPPED.has(current.state) && shouldStart(current, desired.restartPolicy)) {
        actions.push({ type: "start", id: current.id, name: current.name, reason: `container is ${current.state}` });
      } else if (current.unjoined && current.state === "running") {
        // A rollout ended (or Berth stopped) between its start and its joining the service's name.
        actions.push({ type: "join", id: current.id, name: current.name, networks: current.networks, reason: "runs outside its service's name" });
      }
      for (const c of others) actions.push(leave(c, c.specHash === desired.specHash ? "duplicate in its replica slot" : "outdated spec"));
      continue;
    }
    const outdated = others.map((c) => leave(c, "outdated spec"));
    const replacement = create(desired, slot, others.length ? "spec changed" : "missing replica");
    // Rolling: the new container runs before the old one goes; recreate: never two at once.
    if (desired.strategy === "rolling") actions.push(replacement, ...outdated);
    else actions.push(...outdated, replacement);
  }

  for (const c of byNewest) {
    if (c.slot < 0 || c.slot >= desired.replicas) actions.push(leave(c, c.slot < 0 ? "no replica slot label" : "scaled down"));
  }
  return actions;

  /** Out of service already (a rollout retired it before Berth restarted) and still in its grace period: stopped in the background. */
  function leave(c: ObservedContainer, reason: string): ServiceAction {
    return detached(c) && c.state === "running" ? retire(c, reason, true) : removal(c, reason);
  }
}

/** A create action for a slot, named after the spec it runs. */
export function create(desired: Pick<ServiceDesired, "project" | "environment" | "service" | "specHash">, slot: number, reason: string, joinWhenReady = false): ServiceAction {
  const name = containerName(desired.project, desired.environment, desired.service, slot, desired.specHash);
  return { type: "create", slot, name, revision: desired.specHash, reason, ...(joinWhenReady ? { joinWhenReady } : {}) };
}

/** Out of the service's name first, then stopped in the background: the next step does not wait out its grace period. */
export function retire(c: ObservedContainer, reason: string, remove = false): ServiceAction {
  return { type: "retire", id: c.id, name: c.name, slot: c.slot, networks: c.networks, remove, reason };
}

/** Stop-and-remove of one container. */
export function removal(c: ObservedContainer, reason: string): ServiceAction {
  return { type: "remove", id: c.id, name: c.name, slot: c.slot, reason };
}

/**
 * The plan minus everything that would bring a replica up while a dependency
 * is unmet: creations, starts, and the removals of old containers whose
 * replacements are held back (so a rolling update never leaves a slot empty).
 */
export function holdBackStarts(actions: readonly ServiceAction[]): ServiceAction[] {
  const heldSlots = new Set(actions.flatMap((a) => (a.type === "create" ? [a.slot] : [])));
  return actions.filter((a) => a.type !== "create" && a.type !== "start" && !(a.type === "remove" && heldSlots.has(a.slot)));
}

/** The image step a plan with creations needs first, if any. */
export function planImage(image: ImageSource, present: boolean): ServiceAction[] {
  if (image.build) return present ? [] : [{ type: "build", ref: image.ref, reason: "image not built yet" }];
  if (image.pullPolicy === "Always") return [{ type: "pull", ref: image.ref, reason: "imagePullPolicy Always" }];
  if (!present && image.pullPolicy === "IfNotPresent") return [{ type: "pull", ref: image.ref, reason: "image not present" }];
  return [];
}

/** What an action says about Docker versus the spec, for drift records. */
export function serviceChange(action: ServiceAction): Change {
  switch (action.type) {
    case "pull":
    case "build":
      return { path: `image ${action.ref}`, observed: "absent", desired: "present" };
    case "create":
      return { path: `replica ${action.slot}`, observed: action.reason, desired: `running ${action.name}` };
    case "start":
      return { path: `container ${action.name}`, observed: action.reason, desired: "running" };
    case "stop":
      return { path: `container ${action.name}`, observed: "running", desired: `stopped (${action.reason})` };
    case "remove":
      return { path: `container ${action.name}`, observed: action.reason, desired: "absent" };
    case "join":
      return { path: `container ${action.name}`, observed: "outside the service's name", desired: `answers to it (${action.reason})` };
    case "retire":
      return { path: `container ${action.name}`, observed: "serving", desired: `out of service, ${action.remove ? "removed" : "stopped"} (${action.reason})` };
    case "prune-images":
      return { path: "image (old builds)", observed: "present", desired: "pruned" };
    case "probe":
      return { path: "health probes", observed: "", desired: `${action.containers.length} container(s)` };
  }
}

/** One line per action, as `berth plan` prints it. */
export function describeServiceAction(action: ServiceAction): string {
  switch (action.type) {
    case "pull":
      return `pull ${action.ref} (${action.reason})`;
    case "build":
      return `build ${action.ref} (${action.reason})`;
    case "create":
      return `create ${action.name} (${action.reason})`;
    case "prune-images":
      return `prune old built images (${action.reason})`;
    case "probe":
      return `probe ${action.containers.length} container(s)`;
    default:
      return `${action.type} ${action.name} (${action.reason})`;
  }
}
