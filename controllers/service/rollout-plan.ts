import type { ObservedContainer } from "../../src/docker/observe.ts";
import { create, removal, retire, type ServiceAction, type ServiceDesired } from "./plan.ts";

/** What a rollout step needs to know of the revision it rolls out. */
export type RolloutDesired = Pick<ServiceDesired, "project" | "environment" | "service" | "replicas" | "specHash" | "strategy" | "restartPolicy"> & {
  maxSurge: number;
  maxUnavailable: number;
  /** With a check, a container started beside serving ones joins the service's name only once ready. */
  healthCheck?: unknown;
};

/** A container as a rollout sees it: its state plus whether its health check passes. */
export interface ReplicaView extends ObservedContainer {
  /** Running and, with a health check, healthy. */
  ready: boolean;
  /** Its health check failed `retries` times in a row. */
  unhealthy: boolean;
  /** A one-shot container that ran to completion (exit 0 under restart policy no or on-failure): done, never restarted. */
  completed?: boolean;
  /** Not on the service's network: taken out of service by a rollout (running: stopping in the background). */
  detached?: boolean;
}

/** The next step of a rollout. */
export interface RolloutStep {
  actions: ServiceAction[];
  /** Slots whose new container runs but is not ready yet. */
  waiting: number[];
  /** Every slot runs a ready container of the new revision and nothing else runs. */
  done: boolean;
  /** A new container failed: the rollout cannot succeed. */
  failure?: string;
}

const RUNNING = new Set(["running", "restarting"]);

const restarts = (policy: RolloutDesired["restartPolicy"]) => policy === "always" || policy === "unless-stopped";

/** Runs and can be routed to: on the service's network and in its name. */
const inService = (c: ReplicaView) => RUNNING.has(c.state) && !c.detached && !c.unjoined;

/** Why a container of the revision cannot become ready, if it cannot: unhealthy, crash-looping, or exited under a policy that does not restart it. */
function brokenWhy(c: ReplicaView, policy: RolloutDesired["restartPolicy"]): string | undefined {
  if (c.unhealthy) return `container ${c.name} is unhealthy`;
  if (c.state === "restarting") return `container ${c.name} keeps restarting (last exit code ${c.exitCode ?? "unknown"})`;
  if (c.state === "exited" && !c.completed && !restarts(policy)) return `container ${c.name} exited with code ${c.exitCode ?? "unknown"}`;
  return undefined;
}

/** Per slot: the newest container of the revision, and every other container there. */
function slotsOf(revision: string, replicas: number, observed: readonly ReplicaView[]) {
  const byNewest = [...observed].sort((a, b) => b.created - a.created || a.name.localeCompare(b.name));
  return Array.from({ length: replicas }, (_, slot) => {
    const inSlot = byNewest.filter((c) => c.slot === slot);
    const fresh = inSlot.find((c) => c.specHash === revision && c.state !== "dead");
    return { slot, fresh, others: inSlot.filter((c) => c !== fresh) };
  });
}


/**
 * The next step of a rolling or recreate update toward `desired.specHash`.
 * Rolling: a new container starts beside the old one (within maxSurge) or in
 * its place (within maxUnavailable); the old one is stopped, not removed,
 * once its replacement is ready. Recreate: every old container stops first.
 * Pure, and idempotent: a step re-planned from what Docker shows now never
 * repeats work already done.
 */
export function planRolloutStep(desired: RolloutDesired, observed: readonly ReplicaView[], options: { replaceFailed?: boolean } = {}): RolloutStep {
  const stops: ServiceAction[] = [];
  // A new attempt (a retry, or the same revision again) starts over from the containers that failed the last one.
  const failed = options.replaceFailed ? observed.filter((c) => c.specHash === desired.specHash && brokenWhy(c, desired.restartPolicy)) : [];
  for (const c of failed) stops.push(removal(c, "failed an earlier attempt"));
  // A container of this revision that a rollout retired (a revert mid-rollout) is unreachable: replaced, never started again.
  const retired = observed.filter((c) => c.specHash === desired.specHash && c.detached && !failed.includes(c));
  for (const c of retired) stops.push(removal(c, "taken out of service by an earlier rollout"));
  const slots = slotsOf(desired.specHash, desired.replicas, observed.filter((c) => !failed.includes(c) && !retired.includes(c)));
  const creates: ServiceAction[] = [];
  const waiting: number[] = [];
  const stop = (c: ReplicaView, reason: string) => stops.push({ type: "stop", id: c.id, name: c.name, reason });

  // A dead container still holds its name: it goes before its slot gets a new one.
  for (const { others } of slots) for (const c of others) if (c.state === "dead") stops.push(removal(c, "container is dead"));
  // A container taken out of service is already leaving: it neither serves nor counts against the surge.
  const beyond = observed.filter((c) => (c.slot < 0 || c.slot >= desired.replicas) && RUNNING.has(c.state) && !c.detached);
  // A check says when a new container is ready: until then it stays out of the name while others serve.
  const othersServe = () => !!desired.healthCheck && observed.some((c) => inService(c) && c.ready && !stops.some((a) => "id" in a && a.id === c.id));
  const joins: ServiceAction[] = [];

  for (const { fresh, slot } of slots) {
    if (!fresh || fresh.completed) continue;
    const broken = brokenWhy(fresh, desired.restartPolicy);
    if (broken) return { actions: [], waiting: [], done: false, failure: broken };
    // Not started yet, or stopped by an earlier rollout that this one reverses.
    if (fresh.state === "created" || (fresh.state === "exited" && !fresh.completed)) creates.push({ type: "start", id: fresh.id, name: fresh.name, reason: fresh.state === "created" ? "new revision not started yet" : "revision's container is stopped" });
    if (fresh.ready && fresh.unjoined && RUNNING.has(fresh.state)) joins.push({ type: "join", id: fresh.id, name: fresh.name, networks: fresh.networks, reason: "ready" });
    if (!fresh.ready || fresh.unjoined) waiting.push(slot);
  }

  if (desired.strategy === "recreate") {
    for (const { others } of slots) for (const c of others) if (RUNNING.has(c.state) && !c.detached) stop(c, "recreate: old revision stops first");
    for (const c of beyond) stop(c, "recreate: old revision stops first");
    for (const { fresh, slot } of slots) if (!fresh) creates.push(create(desired, slot, "new revision"));
  } else {
    const oldRunning = (others: ReplicaView[]) => others.filter((c) => RUNNING.has(c.state) && !c.detached);
    const serving = (c: ReplicaView | undefined) => !!c && c.ready && !c.unjoined;
    let surge = slots.filter((s) => s.fresh && !serving(s.fresh) && oldRunning(s.others).length > 0).length;
    let unavailable = slots.filter((s) => !serving(s.fresh) && !oldRunning(s.others).some((c) => c.ready)).length;
    for (const { fresh, others, slot } of slots) {
      const running = oldRunning(others);
      if (serving(fresh)) for (const c of running) stops.push(retire(c, "replacement is ready"));
      if (fresh) continue;
      if (!running.some((c) => c.ready)) {
        // Nothing serves this slot anyway: no budget to spend.
        for (const c of running) stops.push(retire(c, "replaced by the new revision"));
        creates.push(create(desired, slot, "new revision", othersServe()));
      } else if (surge < desired.maxSurge) {
        surge++;
        creates.push(create(desired, slot, "new revision beside the old one", othersServe()));
      } else if (unavailable < desired.maxUnavailable) {
        unavailable++;
        for (const c of running) stop(c, "makes room for the new revision");
        creates.push(create(desired, slot, "new revision in place of the old one", othersServe()));
      }
    }
  }

  // Rolling: containers beyond the replica count keep serving until every slot runs the new revision.
  const allServing = slots.every((s) => (s.fresh?.ready && !s.fresh.unjoined) || s.fresh?.completed);
  if (desired.strategy === "rolling" && allServing) for (const c of beyond) stops.push(retire(c, "outside the replica count"));
  // Retirements go last. Docker hands a network address to the next container that joins, and
  // derives the MAC from it: a new container created right after an old one left would take its
  // address, and a request already on its way to the old one (its SYN resent a second later) would
  // reach a replica that is not listening yet. Created first, the new one gets another address; the
  // old one's goes, at the earliest, to a ready replica joining the name in a later step.
  const retirements = stops.filter((a) => a.type === "retire");
  const actions = [...stops.filter((a) => a.type !== "retire"), ...joins, ...creates, ...retirements];
  const strays = beyond.length > 0 || slots.some((s) => s.others.some((c) => RUNNING.has(c.state) && !c.detached));
  const done = actions.length === 0 && waiting.length === 0 && !strays && allServing;
  return { actions, waiting: [...new Set([...waiting, ...creates.flatMap((a) => (a.type === "create" ? [a.slot] : []))])], done };
}

/**
 * Whether every slot's container of the revision is ready; a failure as soon
 * as one turns unhealthy or exits on its own. Slots without one are left to
 * the next deploy step.
 */
export function readiness(desired: Pick<RolloutDesired, "replicas" | "specHash">, observed: readonly ReplicaView[]): { ready: boolean; failure?: string } {
  const fresh = slotsOf(desired.specHash, desired.replicas, observed).flatMap((s) => (s.fresh ? [s.fresh] : []));
  // Here every container was started by a step: one that exited did so on its own, whatever its restart policy.
  for (const c of fresh) {
    const failure = brokenWhy(c, "no");
    if (failure) return { ready: false, failure };
  }
  return { ready: fresh.every((c) => c.ready || c.completed) };
}

/**
 * Puts the previous revision back: every container of another revision goes
 * (first, so host ports are free), the previous revision's stopped containers
 * start again, and slots that lost theirs get a new one from its spec.
 */
export function planRestore(previous: Pick<RolloutDesired, "project" | "environment" | "service" | "replicas" | "specHash">, observed: readonly ReplicaView[]): ServiceAction[] {
  const removals: ServiceAction[] = [];
  const starts: ServiceAction[] = [];
  for (const { fresh, others, slot } of slotsOf(previous.specHash, previous.replicas, observed)) {
    for (const c of others) removals.push(removal(c, c.specHash === previous.specHash ? "duplicate in its replica slot" : "rolled back"));
    if (!fresh) starts.push(create(previous, slot, "restore the previous revision"));
    else if (fresh.detached) {
      // Taken off its network when the rollout retired it: a new container is reachable, the old one would not be.
      removals.push(removal(fresh, "restore the previous revision: taken out of service"));
      starts.push(create(previous, slot, "restore the previous revision"));
    } else if (!RUNNING.has(fresh.state) && !fresh.completed) starts.push({ type: "start", id: fresh.id, name: fresh.name, reason: "restore the previous revision" });
    else if (fresh.unjoined) starts.push({ type: "join", id: fresh.id, name: fresh.name, networks: fresh.networks, reason: "restore the previous revision" });
  }
  for (const c of observed) if (c.slot < 0 || c.slot >= previous.replicas) removals.push(removal(c, "outside the replica count"));
  return [...removals, ...starts];
}

/** Once a rollout succeeded: the old revision's stopped containers and any beyond the replica count go. */
export function planCleanup(desired: Pick<RolloutDesired, "replicas" | "specHash">, observed: readonly (ObservedContainer & Pick<ReplicaView, "detached">)[]): ServiceAction[] {
  const keep = new Set(slotsOf(desired.specHash, desired.replicas, observed as ReplicaView[]).flatMap((s) => (s.fresh ? [s.fresh.id] : [])));
  return observed
    .filter((c) => !keep.has(c.id))
    .map((c) => {
      const why = c.slot >= desired.replicas || c.slot < 0 ? "outside the replica count" : "old revision, no longer needed for a rollback";
      // Still in its stop grace period: removed once stopped, without holding up the rollout's end.
      return c.detached && RUNNING.has(c.state) ? retire(c, why, true) : removal(c, why);
    });
}
