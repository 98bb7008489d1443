import type { ContainerHealth, ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import type { RevisionSpec } from "../../src/desired/revision.ts";
import type { PlanChange } from "../../src/engine/plan-change.ts";
import { durationMs } from "../../src/desired/units.ts";
import { changedFields, describeStrategy, steadyChange } from "./changes.ts";
import { isReady, unmetDependencies, type HealthOf } from "./dependencies.ts";
import { completed, holdBackStarts, planImage, planService, type ServiceAction } from "./plan.ts";
import { freeHostPorts } from "./ports.ts";
import { advanceRollout, rolloutOutcome, type RolloutInput, type RolloutRecord } from "./rollout-machine.ts";
import { stepRollout, supersedeRollout, type RolloutWorld } from "./rollout-step.ts";
import { holds, pinAfter, RETRY, type Pin } from "./pins.ts";
import { serviceFacts, type ServiceFacts } from "./phase.ts";
import { revisionSpecOf } from "../../src/desired/revision.ts";

/** What one pass observed: Docker's containers, networks, volumes and images, and the health Berth knows. */
export interface ServiceWorld {
  now: number;
  /** Berth's containers in the service's environment (dependencies are judged from them). */
  containers: readonly ObservedContainer[];
  /** Berth's containers on the target that publish host ports, in any environment. */
  portHolders: readonly ObservedContainer[];
  /** Names of the environment's networks and volumes that exist. */
  networks: readonly string[];
  volumes: readonly string[];
  /** Image refs looked up this pass, and whether each is on the target. */
  images: Readonly<Record<string, boolean>>;
  /** Berth's own probe status per container id (http and tcp checks, and exec results read from Docker). */
  probed: Readonly<Record<string, ContainerHealth | undefined>>;
  /** The last output of a container's check. */
  checkOutput: Readonly<Record<string, string | undefined>>;
  /** Services declared in the target's environments, as `<environment>/<service>`: others' containers are leftovers. */
  declared: ReadonlySet<string>;
}

/** What the store holds about the service. */
export interface ServiceRecords {
  rollout?: RolloutRecord;
  pin?: Pin;
  /** The revision it last ran successfully. */
  deployed?: string;
  /** Any rollout on record. */
  hasHistory: boolean;
  /** The service at stored revisions (pinned, rolling out, previous), by spec hash. */
  at: ReadonlyMap<string, DesiredService>;
  /** The stored spec of the deployed revision: what `plan` compares the manifest with. */
  deployedSpec?: RevisionSpec;
  /** Dependencies judged by the revision they run now (a pin or a rollout in flight holds them elsewhere). */
  peers: ReadonlyMap<string, DesiredService>;
}

/** Store writes a pass makes before any Docker action, so a crash never loses a decision. */
export interface RecordWrites {
  /** Open a deployments row, store the revision's spec, then write the first record. */
  begin?: Omit<RolloutInput, "deploymentId"> & { image: string; spec: RevisionSpec };
  /** The record to write; null removes it (the rollout ended). */
  rollout?: RolloutRecord | null;
  /** The final record of a rollout that ended this pass (never stored; its events are). */
  ended?: RolloutRecord;
  finish?: { deploymentId: number; status: "success" | "failed" | "rolled_back"; error?: string; healthCheckPassed?: boolean };
  pin?: Pin | null;
}

export interface ServiceDecision {
  actions: ServiceAction[];
  writes: RecordWrites;
  facts: ServiceFacts;
  /** What this pass means, as `plan` shows it; none when nothing changes. */
  change?: PlanChange;
  /** Why the pass cannot converge. `terminal`: waiting will not fix it (apply --wait ends at once); `retry`: back off and try again. */
  error?: { message: string; terminal: boolean; retry: boolean };
}

export interface DecideOptions {
  pollMs?: number;
}

/**
 * Converges one Service of one Environment, decided from the manifest, what
 * Docker shows and what the store remembers. Pure: `plan`, `apply` and the
 * daemon all call it; only the executor differs.
 */
export function decideService(key: string, manifest: DesiredService | undefined, world: ServiceWorld, records: ServiceRecords, options: DecideOptions = {}): ServiceDecision {
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

  const rollout = records.rollout;
  if (rollout) {
    const { context } = rollout;
    // A rollout that is cleaning up has succeeded: it finishes, and the next pass starts what is wanted now.
    if (((wanted !== null && context.revision !== wanted) || manifest.suspended) && rollout.state !== "completing") {
      const next = supersedeRollout(rollout, manifest.suspended ? "the environment was suspended" : wanted!);
      return { actions: [probe(manifest, network, own, at)], writes: { ...writes, ...ending(next) }, facts: serviceFacts.rolling(manifest, `rollout of revision ${context.revision.slice(0, 12)} superseded`, 0), change: { resource, action: "rollout", strategy: manifest.strategy, reason: `supersede the rollout of ${context.revision.slice(0, 12)}`, fields: [] } };
    }
    const target = at(context.revision);
    const previous = context.previous ? at(context.previous) : undefined;
    if (!target) return { actions: [], writes, facts: serviceFacts.none("revision spec unknown"), error: { message: `revision ${context.revision.slice(0, 12)} of ${key} has no stored spec`, terminal: true, retry: false } };
    const views = own.map((c) => {
      const done = completed(c, target.restartPolicy);
      const judge = c.specHash === previous?.specHash ? previous : target;
      return { ...c, ready: done || isReady(c, judge, healthOf), completed: done, unhealthy: !!judge.healthCheck && healthOf(c, judge) === "unhealthy" };
    });
    const rolloutWorld: RolloutWorld = { now: world.now, views, imagePresent: (ref) => world.images[ref] ?? false, checkOutput: (id) => world.checkOutput[id] };
    const step = stepRollout(rollout, target, previous, rolloutWorld, options.pollMs);
    const next = step.record;
    const outcome = rolloutOutcome(next.state);
    // Host port handover: a renamed service's old container gives up its port before the new one is created.
    const handover = step.actions.some((a) => a.type === "create") ? freeHostPorts(target, world.portHolders, world.declared) : [];
    const all = [...handover, ...step.actions, probe(target, network, own, at)];
    const change: PlanChange = { resource, action: "rollout", strategy: target.strategy, reason: `${describeStrategy(target)}: ${next.context.phase}${next.context.waiting.length ? `, waiting for slot(s) ${next.context.waiting.join(", ")}` : ""}`, fields: [] };
    if (!outcome) {
      const waiting = next.context.waiting.length && next.state === "healthCheck" ? `, waiting for slot(s) ${next.context.waiting.join(", ")}` : "";
      return { actions: all, writes: { ...writes, rollout: next }, facts: serviceFacts.rolling(manifest, `rollout of revision ${context.revision.slice(0, 12)}: ${next.context.phase}${waiting}`, step.requeueAfterMs), change };
    }
    const ended = { ...writes, ...ending(next, !!target.healthCheck) };
    if (outcome === "success") return { actions: all, writes: ended, facts: serviceFacts.rolling(manifest, `revision ${context.revision.slice(0, 12)} rolled out`, 0), change };
    // A failed first rollout (nothing to go back to) is an error like any other: retried with backoff.
    const failure = `rollout of revision ${context.revision.slice(0, 12)} ${outcome === "rolled_back" ? "rolled back" : "failed"}: ${next.context.failure}${next.context.rollbackError ? `; rollback failed: ${next.context.rollbackError}` : ""}`;
    return { actions: all, writes: ended, facts: serviceFacts.of(manifest, own, healthOf, false, failure, undefined), change, error: { message: failure, terminal: true, retry: ended.pin === undefined || ended.pin === null } };
  }

  if (wanted === null) {
    // A failed rollout without a rollback: the containers stay as they are for inspection, nothing is retried.
    const held = `${pin!.reason}; Berth waits for a new revision of the container spec in the manifests or berth rollout retry`;
    return { actions: [probe(manifest, network, own, at)], writes, facts: { ...serviceFacts.of(manifest, own, healthOf, true, undefined, undefined), held } };
  }
  const desired = at(wanted);
  if (!desired) return { actions: [], writes, facts: serviceFacts.none("revision spec unknown"), error: { message: `revision ${wanted.slice(0, 12)} of ${key} was never rolled out by Berth, so its spec is unknown; expected a revision from berth history`, terminal: true, retry: false } };

  const waiting = unmetDependencies(desired, records.peers, world.containers, healthOf);
  const revisionRuns = own.some((c) => c.specHash !== desired.specHash && c.slot >= 0 && c.slot < desired.replicas && c.state === "running");
  const needsRollout = !desired.suspended && desired.replicas > 0 && (records.deployed !== desired.specHash || revisionRuns);
  let actions = needsRollout ? [] : planService(desired, own);
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
    const change = planService(desired, own).length ? beginChange(resource, desired, own, records) : undefined;
    return { actions: [probe(desired, network, own, at)], writes: { ...writes, begin }, facts: serviceFacts.rolling(desired, `rollout of revision ${desired.specHash.slice(0, 12)} started`, 0), change };
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
    change: needsRollout && waiting.length ? beginChange(resource, desired, own, records, waiting) : steadyChange(resource, actions, running, desired.replicas),
  };
}

/** The service left the manifests: a rollout in flight ends, a pin goes, probes stop. */
function removed(key: string, records: ServiceRecords): ServiceDecision {
  const writes: RecordWrites = records.pin ? { pin: null } : {};
  const { rollout } = records;
  // A rollout cleaning up has succeeded; any other ends as superseded. The environment prunes the containers.
  if (rollout) Object.assign(writes, ending(rollout.state === "completing" ? advanceRollout(rollout, { type: "CLEANED" }) : supersedeRollout(rollout, "the service was removed from the manifests")));
  return { actions: [{ type: "probe", checks: new Map(), network: "", containers: [] }], writes, facts: { desired: 0, running: 0, ready: 0, converged: true, message: "not declared" } };
}

/** Writes that end a rollout whose record reached a final state: its row, its pin, the record's removal. */
function ending(record: RolloutRecord, checked = false): RecordWrites {
  const outcome = rolloutOutcome(record.state);
  if (!outcome) return { rollout: record };
  const { context } = record;
  const failure = record.state === "rollbackFailed" ? `${context.failure}; rollback failed: ${context.rollbackError}` : context.failure;
  const pin = pinAfter(record, context.startedAt);
  return { rollout: null, ended: record, finish: { deploymentId: context.deploymentId, status: outcome, error: failure, healthCheckPassed: checked ? outcome === "success" : undefined }, ...(pin === undefined ? {} : { pin }) };
}

function beginChange(resource: string, desired: DesiredService, own: readonly ObservedContainer[], records: ServiceRecords, waiting: readonly string[] = []): PlanChange {
  const first = own.length === 0 && !records.deployed;
  const after = waiting.length ? ` once ${waiting.join(", ")}` : "";
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

/** The probes a service's containers need: on every running container, the check of the revision it runs. */
function probe(service: DesiredService, network: string, own: readonly ObservedContainer[], at: (revision: string) => DesiredService | undefined = () => undefined): ServiceAction {
  const running = own.filter((c) => c.state === "running");
  const checks = new Map(running.map((c) => [c.id, (c.specHash === service.specHash ? service : (at(c.specHash) ?? service)).healthCheck]));
  return { type: "probe", checks, network, containers: running };
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
