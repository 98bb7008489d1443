import type { DesiredService } from "../../src/desired/model.ts";
import { unmetDependencies, type HealthOf } from "./dependencies.ts";
import { probe } from "./decide-rollout.ts";
import type { ServiceDecision, ServiceWorld } from "./decision.ts";
import { serviceFacts } from "./phase.ts";
import { holdBackStarts, planImage, planService } from "./plan.ts";

/**
 * The decision while the store cannot be read: Docker keeps converging where
 * no record is needed, and nothing that needs one happens. A revision already
 * running (or a service with no container yet: nothing to roll back to) is
 * kept whole — missing replicas created, stopped ones started. A change of
 * revision waits: a rollout that could not be recorded could not be resumed
 * or rolled back after a crash.
 */
export function decideUnrecorded(manifest: DesiredService, peers: ReadonlyMap<string, DesiredService>, world: ServiceWorld, storeError: string): ServiceDecision {
  const own = world.containers.filter((c) => c.service === manifest.service);
  const network = manifest.template.HostConfig?.NetworkMode ?? "";
  const healthOf: HealthOf = (c, s) => (s.healthCheck?.exec ? c.health : world.probed[c.id]);
  // Any container of another revision (stopped, crash-looping, paused) is one a rollout would replace or restore: that waits.
  const runsOther = own.some((c) => c.specHash !== manifest.specHash && c.state !== "dead");
  const message = `the store cannot be read (${storeError}); a change of revision waits for it, running revisions are kept as they are`;
  if (runsOther) return { actions: [probe(manifest, network, own)], writes: {}, facts: serviceFacts.of(manifest, own, healthOf, false, message, 5_000), error: { message, terminal: false, retry: true } };
  let actions = planService(manifest, own);
  if (unmetDependencies(manifest, peers, world.containers, healthOf).length) actions = holdBackStarts(actions);
  if (actions.some((a) => a.type === "create")) actions = [...planImage(manifest.image, world.images[manifest.image.ref] ?? false), ...actions];
  return { actions: [...actions, probe(manifest, network, own)], writes: {}, facts: serviceFacts.of(manifest, own, healthOf, actions.length === 0, undefined, actions.length ? 200 : undefined) };
}
