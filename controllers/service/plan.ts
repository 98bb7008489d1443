import type { ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService, ImageSource } from "../../src/desired/model.ts";
import { containerName } from "../../src/desired/names.ts";

/** One step that brings a service's containers closer to the manifest. */
export type ServiceAction =
  | { type: "pull"; ref: string; reason: string }
  | { type: "build"; ref: string; reason: string }
  | { type: "create"; slot: number; name: string; reason: string }
  | { type: "start"; id: string; name: string; reason: string }
  | { type: "stop"; id: string; name: string; reason: string }
  | { type: "remove"; id: string; name: string; reason: string };

export type ServiceDesired = Pick<DesiredService, "project" | "environment" | "service" | "replicas" | "suspended" | "specHash" | "strategy" | "restartPolicy">;

const STOPPED = new Set(["created", "exited", "dead"]);

/** A one-shot container that finished well stays finished when its restart policy says so. */
function completed(c: ObservedContainer, restartPolicy: ServiceDesired["restartPolicy"]): boolean {
  return c.state === "exited" && c.exitCode === 0 && (restartPolicy === "no" || restartPolicy === "on-failure");
}

/**
 * Containers to create, start, stop or remove so that every replica slot runs
 * exactly one container of the desired spec. Pure: same input, same plan.
 */
export function planService(desired: ServiceDesired, observed: readonly ObservedContainer[]): ServiceAction[] {
  const actions: ServiceAction[] = [];
  const byNewest = [...observed].sort((a, b) => b.created - a.created || a.name.localeCompare(b.name));

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
        actions.push({ type: "remove", id: current.id, name: current.name, reason: "container is dead" });
        actions.push(create(desired, slot, "replace dead container"));
      } else if (STOPPED.has(current.state) && !completed(current, desired.restartPolicy)) {
        actions.push({ type: "start", id: current.id, name: current.name, reason: `container is ${current.state}` });
      }
      for (const c of others) actions.push(removal(c, c.specHash === desired.specHash ? "duplicate in its replica slot" : "outdated spec"));
      continue;
    }
    const outdated = others.map((c) => removal(c, "outdated spec"));
    const replacement = create(desired, slot, others.length ? "spec changed" : "missing replica");
    // Rolling: the new container runs before the old one goes; recreate: never two at once.
    if (desired.strategy === "rolling") actions.push(replacement, ...outdated);
    else actions.push(...outdated, replacement);
  }

  for (const c of byNewest) {
    if (c.slot < 0 || c.slot >= desired.replicas) actions.push(removal(c, c.slot < 0 ? "no replica slot label" : "scaled down"));
  }
  return actions;
}

function create(desired: ServiceDesired, slot: number, reason: string): ServiceAction {
  const name = containerName(desired.project, desired.environment, desired.service, slot, desired.specHash);
  return { type: "create", slot, name, reason };
}

function removal(c: ObservedContainer, reason: string): ServiceAction {
  return { type: "remove", id: c.id, name: c.name, reason };
}

/** The image step a plan with creations needs first, if any. */
export function planImage(image: ImageSource, present: boolean): ServiceAction[] {
  if (image.build) return present ? [] : [{ type: "build", ref: image.ref, reason: "image not built yet" }];
  if (image.pullPolicy === "Always") return [{ type: "pull", ref: image.ref, reason: "imagePullPolicy Always" }];
  if (!present && image.pullPolicy === "IfNotPresent") return [{ type: "pull", ref: image.ref, reason: "image not present" }];
  return [];
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
    default:
      return `${action.type} ${action.name} (${action.reason})`;
  }
}
