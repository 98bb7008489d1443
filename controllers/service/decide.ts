import type { ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import type { PlanChange } from "../../src/engine/plan-change.ts";
import { durationMs } from "../../src/desired/units.ts";
import { changedFields, describeStrategy, steadyChange } from "./changes.ts";
import { unmetDependencies, type HealthOf } from "./dependencies.ts";
import { continueRollout, ending, probe } from "./decide-rollout.ts";
import { NEW_DEPLOYMENT, type Adoptee, type DecideOptions, type RecordWrites, type ServiceDecision, type ServiceRecords, type ServiceWorld } from "./decision.ts";
import { holdBackStarts, planImage, planService, type ServiceAction } from "./plan.ts";
import { freeHostPorts } from "./ports.ts";
import { advanceRollout, startRollout } from "./rollout-machine.ts";
import { supersedeRollout } from "./rollout-step.ts";
import { holds, RETRY } from "./pins.ts";
import { serviceFacts } from "./phase.ts";
import { revisionSpecOf } from "../../src/desired/revision.ts";

export type { DecideOptions, RecordWrites, ServiceDecision, ServiceRecords, ServiceWorld } from "./decision.ts";

/**
 * Converges one Service of one Environment, decided from the manifest, what
 * Docker shows and what the store remembers. Pure: `plan`, `apply` and the
 * daemon all call it; only the executor differs.
 */
export function decideService(key: string, manifest: DesiredService | undefined, world: ServiceWorld, records: ServiceRecords, options: DecideOptions = {}): ServiceDecision {
  return takingOver(key, decideOwn(key, manifest, world, records, options), world, records);
}

function decideOwn(key: string, manifest: DesiredService | undefined, world: ServiceWorld, records: ServiceRecords, options: DecideOptions): ServiceDecision {
  const resource = key;
  const writes: RecordWrites = {};
  if (!manifest) return removed(key, records);
  if (manifest.error) return { actions: [], writes, facts: serviceFacts.none(manifest.error), error: { message: manifest.error, terminal: true, retry: false } };

  let pin = records.pin;
  if (pin && pin.manifestRevision !== manifest.specHash) {
    writes.pin = null; // the manifest moved on: its new revision is rolled out
    pin = undefined;
  }
  const wanted = pin ? pin.runRevision : manifest.specHash;
  const network = manifest.template.HostConfig?.NetworkMode ?? "";
  const own = world.containers.filter((c) => c.service === manifest.service);
  const healthOf: HealthOf = (c, s) => (s.healthCheck?.exec ? c.health : world.probed[c.id]);
  const at = (revision: string) => (revision === manifest.specHash ? manifest : records.at.get(revision));

  if (records.restoring !== undefined) {
    // `berth restore` stopped the containers and writes into their volume: nothing starts or changes them until it ends.
    const message = `held while backup ${records.restoring} is restored into its volume`;
    return { actions: [], writes, facts: { ...serviceFacts.of(manifest, own, healthOf, false, message, 2_000), held: message } };
  }
  const view = { key, manifest, own, network, healthOf, at, world, records, pollMs: options.pollMs };
  const rollout = records.rollout;
  if (rollout) {
    // A rollout that is cleaning up has succeeded: it finishes, and the next pass starts what is wanted now.
    if (((wanted !== null && rollout.context.revision !== wanted) || manifest.suspended) && rollout.state !== "completing") {
      const next = supersedeRollout(rollout, manifest.suspended ? "the environment was suspended" : wanted!);
      const { revision } = rollout.context;
      return { actions: [probe(manifest, network, own, at)], writes: { ...writes, ...ending(next), passed: [next] }, facts: serviceFacts.rolling(manifest, `rollout of revision ${revision.slice(0, 12)} superseded`, 0), change: { resource, action: "rollout", strategy: manifest.strategy, reason: `supersede the rollout of ${revision.slice(0, 12)}`, fields: [] } };
    }
    return continueRollout(rollout, view, writes);
  }

  if (wanted === null) {
    // A failed rollout without a rollback: the containers stay as they are for inspection, nothing is retried.
    const held = `${pin!.reason}; Berth waits for a new revision of the container spec in the manifests or berth rollout retry`;
    // Suspending or scaling to zero still applies: neither is part of the revision the pin holds.
    const stops = manifest.suspended || manifest.replicas === 0 ? planService(manifest, own) : [];
    return { actions: [...stops, probe(manifest, network, own, at)], writes, facts: { ...serviceFacts.of(manifest, own, healthOf, stops.length === 0, undefined, stops.length ? 200 : undefined), held, ...(stops.length ? { changed: true } : {}) }, change: steadyChange(resource, stops, 0, manifest.replicas) };
  }
  const desired = at(wanted);
  if (!desired) return { actions: [], writes, facts: serviceFacts.none("revision spec unknown"), error: { message: `revision ${wanted.slice(0, 12)} of ${key} was never rolled out by Berth, so its spec is unknown; expected a revision from berth history`, terminal: true, retry: false } };

  const waiting = unmetDependencies(desired, records.peers, world.containers, healthOf);
  // A container a rollout took out of service is leaving, not running another revision.
  const revisionRuns = own.some((c) => c.specHash !== desired.specHash && c.slot >= 0 && c.slot < desired.replicas && c.state === "running" && !c.retiring && (!network || c.networks.includes(network)));
  const needsRollout = !desired.suspended && desired.replicas > 0 && (records.deployed !== desired.specHash || revisionRuns);
  let actions = needsRollout ? [] : planService(desired, own, network);
  if (waiting.length) actions = holdBackStarts(actions);
  const creates = actions.some((a) => a.type === "create");
  const held = holds(pin) ? `${pin.reason}; runs revision ${desired.specHash.slice(0, 12)} until the container spec in the manifests changes or berth rollout retry` : undefined;

  if ((needsRollout && !waiting.length) || creates) {
    const environment = [network, ...desired.extraNetworks].every((n) => world.networks.includes(n)) && volumesOf(desired).every((v) => world.volumes.includes(v));
    // Docker would create a missing volume itself, without Berth's labels: the environment makes it first.
    if (!environment) return { actions: [probe(desired, network, own, at)], writes, facts: serviceFacts.of(desired, own, healthOf, false, "waiting for the environment's network and volumes", 1_000), change: beginChange(resource, desired, own, records) };
  }
  const imageMissing = !desired.image.build && desired.image.pullPolicy === "Never" && world.images[desired.image.ref] === false;
  if (imageMissing && ((needsRollout && !waiting.length) || creates)) {
    // Waiting will not bring the image: say so now, and look again with backoff (someone may load it).
    const message = `image ${desired.image.ref} is not on DeploymentTarget/${desired.target} and imagePullPolicy is Never; expected it built or loaded there first, e.g. npm run demo:images`;
    return { actions: [probe(desired, network, own, at)], writes, facts: serviceFacts.of(desired, own, healthOf, false, message, undefined), error: { message, terminal: true, retry: true } };
  }
  if (needsRollout && !waiting.length) {
    // Without any history (containers from before Berth recorded rollouts) the revision most containers run is the one to go back to.
    // When the deployed revision is the wanted one but another runs (a rollout superseded half-way), that one is what to go back to.
    const previous = records.deployed === desired.specHash ? mostCommonRunning(own, desired.specHash) : (records.deployed ?? (records.hasHistory ? undefined : mostCommonRunning(own, desired.specHash)));
    const trigger = pin?.reason === RETRY ? "retry" : pin ? "rollback" : "manifest";
    const begin = { key, revision: desired.specHash, manifestRevision: manifest.specHash, previous, autoRollback: desired.autoRollback, healthTimeoutMs: durationMs(desired.healthTimeout), trigger, startedAt: world.now, image: desired.image.ref, spec: revisionSpecOf(desired) } as const;
    // Containers already running this revision (a new database, or history lost): the rollout only records them.
    const change = planService(desired, own, network).length ? beginChange(resource, desired, own, records) : undefined;
    const { image, spec, ...input } = begin;
    const first = startRollout({ ...input, deploymentId: NEW_DEPLOYMENT });
    const begun = continueRollout(first, view, { ...writes, begin });
    return { ...begun, writes: { ...begun.writes, passed: [first, ...(begun.writes.passed ?? [])] }, change };
  }
  if (creates) {
    const present = world.images[desired.image.ref] ?? false;
    actions = [...planImage(desired.image, present), ...freeHostPorts(desired, world.portHolders, world.declared), ...actions];
  }
  const running = own.filter((c) => c.specHash === desired.specHash && c.state === "running").length;
  const message = waiting.length ? `waiting for ${waiting.join(", ")}` : undefined;
  const requeue = waiting.length ? 1_000 : actions.length ? 200 : undefined;
  return {
    actions: [...actions, probe(desired, network, own, at)],
    writes,
    facts: { ...serviceFacts.of(desired, own, healthOf, actions.length === 0 && waiting.length === 0, message, requeue), held, changed: actions.length > 0 },
    // A rollout held back by a dependency still happens once the dependency is ready: plan says so.
    change: needsRollout && waiting.length ? (planService(desired, own, network).length ? beginChange(resource, desired, own, records, waiting) : undefined) : steadyChange(resource, actions, running, desired.replicas),
  };
}

/** The service left the manifests: a rollout in flight ends, a pin goes, probes stop. */
function removed(key: string, records: ServiceRecords): ServiceDecision {
  const writes: RecordWrites = records.pin ? { pin: null } : {};
  const { rollout } = records;
  // A rollout cleaning up has succeeded; any other ends as superseded. The environment prunes the containers.
  if (rollout) {
    const last = rollout.state === "completing" ? advanceRollout(rollout, { type: "CLEANED" }) : supersedeRollout(rollout, "the service was removed from the manifests");
    Object.assign(writes, ending(last), { passed: [last] });
  }
  return { actions: [{ type: "probe", checks: new Map(), network: "", containers: [] }], writes, facts: { desired: 0, running: 0, ready: 0, converged: true, message: "not declared" } };
}

function beginChange(resource: string, desired: DesiredService, own: readonly ObservedContainer[], records: ServiceRecords, waiting: readonly string[] = []): PlanChange {
  const first = own.length === 0 && !records.deployed;
  const after = waiting.length ? `, after waiting for ${waiting.join(", ")}` : "";
  // The deployed revision is the wanted one, yet another runs: a repair, not a change of the manifest.
  const repair = records.deployed === desired.specHash;
  return {
    resource,
    action: first ? "create" : "rollout",
    strategy: desired.strategy,
    reason: first ? `new service: ${describeStrategy(desired)}${after}` : `${describeStrategy(desired)}${repair ? ", replacing containers of another revision" : ""}${after}`,
    fields: first || repair ? [] : changedFields(records.deployedSpec, revisionSpecOf(desired)),
  };
}

function volumesOf(service: DesiredService): string[] {
  return (service.template.HostConfig?.Mounts ?? []).filter((m) => m.Type === "volume" && m.Source).map((m) => m.Source!);
}

/** The revision most running containers have, besides `except`: what a first rollout over existing containers replaces. */
function mostCommonRunning(containers: readonly ObservedContainer[], except: string): string | undefined {
  const counts = new Map<string, number>();
  for (const c of containers) if (c.state === "running" && c.specHash !== except) counts.set(c.specHash, (counts.get(c.specHash) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/**
 * Taking over from docker compose (Environment spec.adopt): compose's
 * container of the service steps aside (stopped, not removed) right before
 * Berth's starts, goes once Berth's revision succeeded, and runs again when
 * Berth's failed, so a failure mid-way leaves the service served. Each
 * Service does this on its own, in dependency order, as its turn comes.
 */
function takingOver(key: string, decision: ServiceDecision, world: ServiceWorld, records: ServiceRecords): ServiceDecision {
  const adoptees = world.adoptees ?? [];
  if (adoptees.length === 0) return decision;
  const running = (a: Adoptee) => a.state === "running" || a.state === "restarting";
  const starts = (a: ServiceAction) => a.type === "create" || a.type === "start";
  let moves: ServiceAction[] = [];
  if (records.deployed && !records.rollout && !decision.writes.rollout) {
    moves = adoptees.map((a) => ({ type: "remove", id: a.id, name: a.name, slot: -1, reason: "replaced by Berth's container (adopted from compose)" }));
  } else if (decision.actions.some(starts) || records.rollout || decision.writes.rollout) {
    moves = adoptees.filter(running).map((a) => ({ type: "stop", id: a.id, name: a.name, reason: "Berth's container takes its place (adopting from compose)" }));
  } else if (decision.error) {
    moves = adoptees.filter((a) => !running(a)).map((a) => ({ type: "start", id: a.id, name: a.name, reason: "Berth's container failed: compose's serves again until the next attempt" }));
  }
  if (moves.length === 0) return decision;
  // Right before Berth's own start: a pull or build first does not lengthen the gap.
  const at = decision.actions.findIndex(starts);
  const actions = at < 0 ? [...moves, ...decision.actions] : [...decision.actions.slice(0, at), ...moves, ...decision.actions.slice(at)];
  const change = decision.change ?? { resource: key, action: "adopt" as const, strategy: null, reason: `compose's container: ${moves.map((m) => m.type).join(", ")}`, fields: [] };
  return { ...decision, actions, change, facts: { ...decision.facts, changed: true, converged: false, requeueAfterMs: decision.facts.requeueAfterMs ?? 200 } };
}
