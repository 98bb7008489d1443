import type { Controller, PassContext, PassResult, ReplicaStatus } from "../../src/engine/controller.ts";
import { hashOf } from "../../src/desired/hash.ts";
import { environmentKey } from "../../src/desired/names.ts";
import type { DesiredModel, DesiredService } from "../../src/desired/model.ts";
import type { ObservedContainer } from "../../src/docker/observe.ts";
import { decideService, type ServiceDecision, type ServiceRecords, type ServiceWorld } from "./decide.ts";
import { decideUnrecorded } from "./decide-unrecorded.ts";
import { classifyStoreError, isStoreError } from "../../src/store/faults.ts";
import { executeServiceActions } from "./execute.ts";
import { servicePhase } from "./phase.ts";
import { LABEL, ownerFilter } from "../../src/docker/labels.ts";
import { closeInterruptedRollouts, imageRunBy, loadServiceRecords, readRolloutRecord, ROLLOUT_MACHINE, writeServiceRecords } from "./records.ts";
import { rolloutOutcome, type RolloutRecord } from "./rollout-machine.ts";
import { observeService } from "./world.ts";
import type { Pin } from "./pins.ts";
import { reconcileSwarmService, type SwarmScope } from "./swarm/reconcile.ts";

/**
 * One pass over one Service of one Environment: read the records, observe
 * Docker, decide, write the decision, then act. `plan` runs the same pass with
 * ctx.dryRun: the decision is recorded, nothing is written or changed.
 */
export async function reconcileService(key: string, ctx: PassContext): Promise<PassResult> {
  const model = ctx.model();
  const manifest = model.services.get(key);
  const swarm = swarmScope(key, model);
  if (swarm) return reconcileSwarmService(swarm, manifest, ctx);
  // Docker keeps converging while the store fails: what needs no record goes on, the rest waits (decideUnrecorded).
  let storeError: string | undefined;
  const records = await loadServiceRecords(key, manifest, model, ctx.store).catch((error: unknown) => {
    if (!isStoreError(error)) throw error;
    storeError = classifyStoreError(error, "the --db database").message;
    return { hasHistory: true, at: new Map(), peers: new Map(manifest ? model.environments.get(manifest.environment)?.services.map((s) => [s.service, s] as const) ?? [] : []) } as ServiceRecords;
  });
  const world = manifest && !manifest.error ? await observeService(manifest, records, model, ctx.driver(manifest.target), ctx.probes, ctx.now(), ctx.dryRun?.assumed) : undefined;
  let decision =
    storeError !== undefined && manifest && world && !manifest.error
      ? decideUnrecorded(manifest, records.peers, world, storeError)
      : decideService(key, manifest, world ?? emptyWorld(ctx.now()), records, { pollMs: ctx.pollMs });
  if (storeError !== undefined && !manifest) return resultOf(model, manifest, { ...decision, writes: {} }, world, [], undefined);
  const at = (revision: string) => (revision === manifest?.specHash ? manifest : records.at.get(revision));
  let changes: PassResult["changes"] = [];
  if (!ctx.dryRun) {
    const write = () =>
      writeServiceRecords(key, decision.writes, {
        store: ctx.store,
        redact: ctx.redact,
        manifestCommit: model.revision,
        onRollout: (record) => ctx.rolloutChanged?.(reportOf(record, !!at(record.context.revision)?.healthCheck)),
        // The image the revision's containers run (fixed at their creation), not what its tag names by the time the rollout ends.
        imageDigest: async (revision) => {
          const ref = at(revision)?.image.ref;
          if (!ref || !manifest || manifest.error) return undefined;
          const driver = ctx.driver(manifest.target);
          const { target, project, environment, service } = manifest;
          const image = imageRunBy(await driver.listContainers([...ownerFilter({ target, project, environment, service }), `${LABEL.specHash}=${revision}`]), revision);
          return image ? driver.imageDigest(ref, image) : undefined;
        },
      });
    const act = async () => {
      if (!manifest) ctx.probes.track(key, undefined, "", []);
      else if (!manifest.error) changes = await executeServiceActions(decision.actions, { key, driver: ctx.driver(manifest.target), at, service: manifest, prober: ctx.probes, store: ctx.store, log: ctx.log, credentials: ctx.pullCredentials && ((ref) => ctx.pullCredentials!(manifest.target, ref)) });
    };
    // A decision is written before it is acted on. Only a rollout's last step (clean-up) acts first: it is
    // idempotent, and its row then says success only once nothing of the old revision is left.
    if (decision.writes.ended) {
      await act();
      await write();
    } else {
      try {
        await write();
      } catch (error) {
        // The decision could not be recorded (a full disk, a lost file): it is not carried out; what needs no record is.
        if (!manifest || !world || manifest.error || !isStoreError(error)) throw error;
        storeError = classifyStoreError(error, "the --db database").message;
        decision = decideUnrecorded(manifest, records.peers, world, storeError);
      }
      await act();
    }
  }
  return resultOf(model, manifest, decision, world, changes, records.pin?.manifestRevision === manifest?.specHash ? records.pin : undefined);
}

/** Who a Service of a swarm target's Environment is, as its Swarm service's labels say; undefined on other targets. */
function swarmScope(key: string, model: DesiredModel): SwarmScope | undefined {
  const [, environment, service] = key.split("/");
  const env = environment ? model.environments.get(environment) : undefined;
  if (!env?.swarm || !service) return undefined;
  return { key, target: env.target, project: env.project, environment: env.environment, service };
}

function resultOf(model: DesiredModel, manifest: DesiredService | undefined, decision: ServiceDecision, world: ServiceWorld | undefined, changes: PassResult["changes"], pin: Pin | undefined): PassResult {
  const { facts, error } = decision;
  const phase = servicePhase(facts, error?.message);
  // A service held on another revision serves, but not what its manifest asks for: only a new revision or a retry changes that.
  const held = error ? undefined : facts.held;
  const own = manifest ? (world?.containers ?? []).filter((c) => c.service === manifest.service) : [];
  const environment = manifest ? [environmentKey(manifest.environment)] : [];
  // Services that depend on this one decide differently when it moves.
  const dependents = manifest ? [...environment, ...dependentsOf(manifest, model)] : [];
  return {
    phase,
    message: error?.message ?? held ?? facts.message,
    ready: !held && !error && (phase === "Running" || phase === "Stopped"),
    converged: facts.converged && !error,
    error,
    held,
    changes,
    requeueAfterMs: facts.requeueAfterMs,
    // Scaling and suspending change what Docker should look like without changing the container spec.
    // A pin (an operator's rollback or retry) changes what it converges toward too: its rollout is not drift.
    specHash: manifest ? hashOf({ spec: manifest.specHash, replicas: manifest.replicas, suspended: manifest.suspended, pin: pin?.runRevision ?? null, reason: pin?.reason ?? null }) : "absent",
    running: facts.running,
    desired: facts.desired,
    containerSpec: manifest?.specHash,
    enqueue: facts.message.startsWith("waiting for the environment") ? environment : [],
    dependents,
    plan: decision.change ? [decision.change] : [],
    replicas: manifest ? replicasOf(own, manifest, world) : [],
    gone: !manifest,
  };
}

function dependentsOf(service: DesiredService, model: DesiredModel): string[] {
  const peers = model.environments.get(service.environment)?.services ?? [];
  return peers.filter((s) => s.dependsOn.some((d) => d.service === service.service)).map((s) => s.key);
}

function replicasOf(own: readonly ObservedContainer[], manifest: DesiredService, world: ServiceWorld | undefined): ReplicaStatus[] {
  return [...own]
    .sort((a, b) => a.slot - b.slot || b.created - a.created)
    .map((c) => ({
      slot: c.slot,
      container: c.name,
      id: c.id,
      revision: c.specHash,
      state: c.state,
      health: (manifest.healthCheck?.exec ? c.health : world?.probed[c.id]) ?? (manifest.healthCheck ? "unknown" : "none"),
      exitCode: c.exitCode,
      created: c.created,
    }));
}

function reportOf(record: RolloutRecord, hasHealthCheck: boolean) {
  const { context, state } = record;
  return { key: context.key, revision: context.revision, previous: context.previous, trigger: context.trigger, state, phase: context.phase, outcome: rolloutOutcome(state), failure: context.failure, rollbackError: context.rollbackError, hasHealthCheck, deploymentId: context.deploymentId > 0 ? context.deploymentId : undefined };
}

function emptyWorld(now: number): ServiceWorld {
  return { now, containers: [], portHolders: [], networks: [], volumes: [], images: {}, probed: {}, checkOutput: {}, declared: new Set() };
}

/** Before the first pass: rollouts a previous run left are resumed from their records; rows a crash left open are closed. */
async function resumeRollouts(ctx: PassContext): Promise<string[]> {
  const closed = await closeInterruptedRollouts(ctx.store, (service) => swarmScope(service, ctx.model()) !== undefined);
  if (closed) ctx.log.warn("interrupted rollouts closed as failed", { count: closed });
  const remembered = new Set((await ctx.store.pins.list()).map((p) => p.service));
  for (const { snapshot } of await ctx.store.snapshots.list(ROLLOUT_MACHINE)) {
    const record = readRolloutRecord(snapshot);
    if (!record) continue;
    remembered.add(record.context.key);
    ctx.log.info("rollout resumed", { service: record.context.key, revision: record.context.revision.slice(0, 12), state: record.state });
  }
  // A service removed while no daemon ran still has its record or pin: one pass ends them.
  return [...remembered].filter((key) => !ctx.model().services.has(key));
}

export const serviceController: Controller = {
  kind: "Service",
  reconcile: reconcileService,
  targetOf: (key, ctx) => ctx.model().services.get(key)?.target,
  start: resumeRollouts,
};
