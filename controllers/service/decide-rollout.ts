import type { ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import type { PlanChange } from "../../src/engine/plan-change.ts";
import { describeStrategy } from "./changes.ts";
import { isReady, type HealthOf } from "./dependencies.ts";
import type { RecordWrites, ServiceDecision, ServiceRecords, ServiceWorld } from "./decision.ts";
import { serviceFacts } from "./phase.ts";
import { pinAfter } from "./pins.ts";
import { completed, type ServiceAction } from "./plan.ts";
import { freeHostPorts } from "./ports.ts";
import { rolloutOutcome, type RolloutRecord } from "./rollout-machine.ts";
import { stepRolloutPass, type RolloutWorld } from "./rollout-step.ts";

/** What a pass knows of the service, for its rollout. */
export interface RolloutView {
  key: string;
  manifest: DesiredService;
  own: readonly ObservedContainer[];
  network: string;
  healthOf: HealthOf;
  at(revision: string): DesiredService | undefined;
  world: ServiceWorld;
  records: ServiceRecords;
  pollMs?: number;
}

/**
 * Takes a rollout in flight (or one begun this pass) as far as this look at
 * the world allows, and says what that means: the record to write, the
 * actions, the facts, and how it ended if it did.
 */
export function continueRollout(rollout: RolloutRecord, view: RolloutView, writes: RecordWrites): ServiceDecision {
  const { key, manifest, own, network, healthOf, at, world } = view;
  const resource = key;
  const { context } = rollout;
  const target = at(context.revision);
  const previous = context.previous ? at(context.previous) : undefined;
  if (!target) return { actions: [], writes, facts: serviceFacts.none("revision spec unknown"), error: { message: `revision ${context.revision.slice(0, 12)} of ${key} has no stored spec`, terminal: true, retry: false } };
  const views = own.map((c) => {
    const done = completed(c, target.restartPolicy);
    const judge = c.specHash === previous?.specHash ? previous : target;
    return { ...c, ready: done || isReady(c, judge, healthOf), completed: done, unhealthy: !!judge.healthCheck && healthOf(c, judge) === "unhealthy", ...(network && !c.networks.includes(network) ? { detached: true } : {}) };
  });
  const judged = (c: ObservedContainer) => {
    // A container of a revision Berth has no spec of cannot be judged by any check: known, and never waited for.
    const judge = at(c.specHash);
    if (!judge) return true;
    const health = judge.healthCheck ? healthOf(c, judge) : "healthy";
    return c.state !== "running" || health === "healthy" || health === "unhealthy";
  };
  const oldHealthKnown = own.filter((c) => c.specHash !== target.specHash && (!network || c.networks.includes(network))).every(judged);
  const rolloutWorld: RolloutWorld = { now: world.now, views, imagePresent: (ref) => world.images[ref], checkOutput: (id) => world.checkOutput[id], oldHealthKnown };
  const step = stepRolloutPass(rollout, target, previous, rolloutWorld, view.pollMs);
  const next = step.record;
  const outcome = rolloutOutcome(next.state);
  const passed = { passed: step.passed };
  // Host port handover: a renamed service's old container gives up its port before the new one is created.
  const handover = step.actions.some((a) => a.type === "create") ? freeHostPorts(target, world.portHolders, world.declared) : [];
  const all = [...handover, ...step.actions, probe(target, network, own, at)];
  const change: PlanChange = { resource, action: "rollout", strategy: target.strategy, reason: `${describeStrategy(target)}: ${next.context.phase}${next.context.waiting.length ? `, waiting for slot(s) ${next.context.waiting.join(", ")}` : ""}`, fields: [] };
  if (!outcome) {
    const waiting = next.context.waiting.length && next.state === "healthCheck" ? `, waiting for slot(s) ${next.context.waiting.join(", ")}` : "";
    return { actions: all, writes: { ...writes, rollout: next, ...passed }, facts: serviceFacts.rolling(manifest, `rollout of revision ${context.revision.slice(0, 12)}: ${next.context.phase}${waiting}`, step.requeueAfterMs), change };
  }
  const ended = { ...writes, ...ending(next, !!target.healthCheck), ...passed };
  if (outcome === "success") return { actions: all, writes: ended, facts: serviceFacts.rolling(manifest, `revision ${context.revision.slice(0, 12)} rolled out`, 0), change };
  // A failed first rollout (nothing to go back to) is an error like any other: retried with backoff.
  const failure = `rollout of revision ${context.revision.slice(0, 12)} ${outcome === "rolled_back" ? "rolled back" : "failed"}: ${next.context.failure}${next.context.rollbackError ? `; rollback failed: ${next.context.rollbackError}` : ""}`;
  return { actions: all, writes: ended, facts: serviceFacts.of(manifest, own, healthOf, false, failure, undefined), change, error: { message: failure, terminal: true, retry: ended.pin === undefined || ended.pin === null } };
}

/** Writes that end a rollout whose record reached a final state: its row, its pin, the record's removal. */
export function ending(record: RolloutRecord, checked = false): RecordWrites {
  const outcome = rolloutOutcome(record.state);
  if (!outcome) return { rollout: record };
  const { context } = record;
  const failure = record.state === "rollbackFailed" ? `${context.failure}; rollback failed: ${context.rollbackError}` : context.failure;
  const pin = pinAfter(record, context.startedAt);
  return { rollout: null, ended: record, finish: { deploymentId: context.deploymentId, status: outcome, error: failure, healthCheckPassed: checked ? outcome === "success" : undefined }, ...(pin === undefined ? {} : { pin }) };
}

/** The probes a service's containers need: on every running container, the check of the revision it runs. */
export function probe(service: DesiredService, network: string, own: readonly ObservedContainer[], at: (revision: string) => DesiredService | undefined = () => undefined): ServiceAction {
  // A container taken out of service (off the network) is no longer probed: it answers nobody now.
  const running = own.filter((c) => c.state === "running" && (!network || c.networks.includes(network)));
  const checks = new Map(running.map((c) => [c.id, (c.specHash === service.specHash ? service : (at(c.specHash) ?? service)).healthCheck]));
  return { type: "probe", checks, network, containers: running };
}

