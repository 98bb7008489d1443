import type { PassContext, PassResult, ReplicaStatus } from "../../../src/engine/controller.ts";
import { ownerFilter } from "../../../src/docker/labels.ts";
import type { Driver } from "../../../src/docker/driver.ts";
import type { SwarmTask } from "../../../src/docker/swarm.ts";
import { buildServiceImage } from "../execute.ts";
import { toObservedContainer } from "../../../src/docker/observe.ts";
import { taskHealthCheck } from "./spec.ts";
import { hashOf } from "../../../src/desired/hash.ts";
import { environmentKey } from "../../../src/desired/names.ts";
import type { DesiredService } from "../../../src/desired/model.ts";
import { TerminalReconcileError } from "../../../src/engine/errors.ts";
import { servicePhase } from "../phase.ts";
import { decideSwarmService, revisionOf, type SwarmAction, type SwarmDecision, type SwarmRecords } from "./decide.ts";

/** Who owns a Swarm service: the labels its spec carries. */
export interface SwarmScope {
  key: string;
  target: string;
  project: string;
  environment: string;
  service: string;
}

/**
 * One pass over one Service of an Environment on a Swarm target: observe its
 * Swarm service and tasks, decide (the same pure decision `plan` runs), record
 * the rollout, then act. Swarm carries the update out and restarts tasks
 * that die; Berth follows it and writes how it went.
 */
export async function reconcileSwarmService(scope: SwarmScope, manifest: DesiredService | undefined, ctx: PassContext): Promise<PassResult> {
  const driver = ctx.driver(scope.target);
  const swarm = driver.swarm;
  if (!swarm) throw new TerminalReconcileError(`DeploymentTarget/${scope.target} is of type swarm but its driver has no Swarm calls`);
  const services = await swarm.listServices(ownerFilter(scope));
  // The oldest is Berth's; another with the same labels was made by hand or by a lost create, and goes.
  const [service, ...extra] = [...services].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const tasks = service ? await swarm.listTasks(service.id) : [];
  const latest = await ctx.store.deployments.latest(scope.key);
  const records: SwarmRecords = latest ? { latest: { id: latest.id, revision: latest.revision, status: latest.status as NonNullable<SwarmRecords["latest"]>["status"], startedAt: latest.startedAt, error: latest.error } } : {};
  const decision = decideSwarmService(manifest && !manifest.error ? manifest : undefined, { now: ctx.now(), service, tasks }, records);
  for (const duplicate of extra) decision.actions.push({ type: "remove", id: duplicate.id, name: duplicate.spec.Name ?? duplicate.id, reason: "a second Swarm service with this service's labels" });
  if (!ctx.dryRun) {
    await carryOut(scope, manifest, decision, driver, ctx);
    await followHealth(scope, manifest, driver, ctx);
  }
  return resultOf(scope, manifest, decision, tasks, ctx);
}

/**
 * Health history: Swarm runs the check in each task's container (see
 * taskHealthCheck); the prober reads each result from the health log of the
 * task containers this engine runs, as it does for exec checks on a single
 * host. Tasks on other nodes are judged by their task state alone.
 */
async function followHealth(scope: SwarmScope, manifest: DesiredService | undefined, driver: Driver, ctx: PassContext): Promise<void> {
  if (!manifest?.healthCheck) return ctx.probes.track(scope.key, undefined, "", []);
  const check = { ...manifest.healthCheck, exec: { command: taskHealthCheck(manifest.healthCheck).Test ?? [] } };
  const here = (await driver.listContainers(ownerFilter(scope))).map(toObservedContainer).filter((c) => c.specHash === manifest.specHash);
  ctx.probes.track(scope.key, check, "", here, driver.healthLogReader);
}

async function carryOut(scope: SwarmScope, manifest: DesiredService | undefined, decision: SwarmDecision, driver: Driver, ctx: PassContext): Promise<void> {
  const report = (revision: string, state: string, deploymentId: number, outcome?: "success" | "failed" | "rolled_back", failure?: string, previous?: string) =>
    ctx.rolloutChanged?.({ key: scope.key, revision, previous, trigger: "manifest", state, phase: outcome ? "done" : "updating", outcome, failure, hasHealthCheck: !!manifest?.healthCheck, deploymentId });
  if (decision.finish) {
    const { id, status, error } = decision.finish;
    await ctx.store.deployments.finish(id, { status, ...(error ? { error: ctx.redact(error) } : {}), healthCheckPassed: status === "success" && !!manifest?.healthCheck });
    const row = await ctx.store.deployments.get(id);
    report(row?.revision ?? "", status === "success" ? "complete" : status === "rolled_back" ? "rolledBack" : "failed", id, status === "in_progress" || status === "pending" ? undefined : status, error);
  }
  if (decision.start) {
    const { revision, previous, image } = decision.start;
    const id = await ctx.store.deployments.start({ service: scope.key, revision, image, previousRevision: previous, trigger: "manifest", status: "in_progress", commit: ctx.model().revision });
    report(revision, "updating", id, undefined, undefined, previous);
  }
  for (const action of decision.actions) await act(action, scope, manifest, driver, ctx);
}

async function act(action: SwarmAction, scope: SwarmScope, manifest: DesiredService | undefined, driver: Driver, ctx: PassContext): Promise<void> {
  const swarm = driver.swarm!;
  const reason = `${scope.key}: ${action.reason}`;
  const auth = () => (manifest && ctx.pullCredentials ? ctx.pullCredentials(scope.target, manifest.image.ref).auth : undefined);
  // Swarm pulls images on the nodes; one built from a context is built here, on the manager, first (see docs/scaling-out.md).
  if ((action.type === "create" || action.type === "update") && manifest?.image.build && !(await driver.imageExists(manifest.image.ref))) {
    await buildServiceImage(driver, manifest, manifest.image.ref, scope.key, `${reason}: build`);
  }
  switch (action.type) {
    case "create":
      await swarm.createService(action.spec, reason, auth());
      ctx.log.info("swarm service created", { target: scope.target, service: scope.key, object: action.spec.Name, reason: action.reason });
      break;
    case "update":
      await swarm.updateService(action.id, action.version, action.spec, reason, auth());
      ctx.log.info("swarm service updated", { target: scope.target, service: scope.key, object: action.spec.Name, reason: action.reason });
      break;
    case "remove":
      await swarm.removeService(action.id, action.name, reason);
      ctx.log.info("swarm service removed", { target: scope.target, service: scope.key, object: action.name, reason: action.reason });
      break;
  }
}

function resultOf(scope: SwarmScope, manifest: DesiredService | undefined, decision: SwarmDecision, tasks: SwarmTask[], ctx: PassContext): PassResult {
  const { facts } = decision;
  const error = manifest?.error ? { message: manifest.error, terminal: true, retry: false } : decision.error;
  const phase = servicePhase(facts, error?.message);
  const environment = [environmentKey(scope.environment)];
  const peers = manifest ? (ctx.model().environments.get(manifest.environment)?.services ?? []) : [];
  return {
    phase,
    message: error?.message ?? facts.held ?? facts.message,
    ready: !facts.held && !error && (phase === "Running" || phase === "Stopped"),
    converged: facts.converged && !error,
    error,
    held: facts.held,
    changes: decision.actions.map((a) => ({ path: `swarm service ${a.type === "remove" ? a.name : a.spec.Name}`, observed: a.type === "create" ? "absent" : "present", desired: a.type === "remove" ? "absent" : a.reason })),
    requeueAfterMs: facts.requeueAfterMs,
    specHash: manifest ? hashOf({ spec: manifest.specHash, replicas: manifest.replicas, suspended: manifest.suspended }) : "absent",
    running: facts.running,
    desired: facts.desired,
    containerSpec: manifest?.specHash,
    dependents: manifest ? [...environment, ...peers.filter((s) => s.dependsOn.some((d) => d.service === manifest.service)).map((s) => s.key)] : [],
    plan: decision.change ? [decision.change] : [],
    replicas: tasks.filter((t) => t.desiredState === "running").map((t) => replicaOf(scope, t, !!manifest?.healthCheck)),
    gone: !manifest,
  };
}

/** A task as `berth rollout status` and `berth health` show a replica: its slot, container and state. */
function replicaOf(scope: SwarmScope, task: SwarmTask, checked: boolean): ReplicaStatus {
  const state = task.state === "running" ? "running" : task.state === "starting" || task.state === "preparing" || task.state === "assigned" ? "created" : task.state;
  return {
    slot: task.slot ?? 0,
    container: `${scope.project}-${scope.environment}-${scope.service}.${task.slot ?? task.nodeId?.slice(0, 12) ?? task.id.slice(0, 12)}`,
    id: task.containerId ?? task.id,
    revision: revisionOf(task.labels) ?? "",
    state,
    // Swarm holds a task in "starting" until its health check passes.
    health: checked ? (task.state === "running" ? "healthy" : task.state === "starting" ? "starting" : "unhealthy") : "none",
    exitCode: task.exitCode,
    created: Date.parse(task.createdAt) || 0,
  };
}
