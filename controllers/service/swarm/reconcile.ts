import type { Driver } from "../../../src/docker/driver.ts";
import { LABEL, ownerFilter } from "../../../src/docker/labels.ts";
import { toObservedContainer } from "../../../src/docker/observe.ts";
import type { SwarmService, SwarmTask } from "../../../src/docker/swarm.ts";
import { hashOf } from "../../../src/desired/hash.ts";
import type { DesiredService } from "../../../src/desired/model.ts";
import { environmentKey } from "../../../src/desired/names.ts";
import type { PassContext, PassResult, ReplicaStatus } from "../../../src/engine/controller.ts";
import { TerminalReconcileError } from "../../../src/engine/errors.ts";
import { buildServiceImage } from "../execute.ts";
import { servicePhase } from "../phase.ts";
import { pullWithCredentials } from "../pull.ts";
import { decideSwarmService, revisionOf, runningFacts, type SwarmAction, type SwarmDecision, type SwarmRecords } from "./decide.ts";
import { processOf, secretName, secretVariables, type SecretInputs } from "./secrets.ts";
import { taskHealthCheck } from "./spec.ts";

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
  // A Service that cannot be deployed as written keeps what runs: nothing is decided for it, nothing removed.
  if (manifest?.error) return resultOf(scope, manifest, { actions: [], facts: { ...runningFacts(tasks, manifest.replicas), ready: 0, converged: false, message: manifest.error } }, tasks, ctx);
  const secretEnv = manifest ? await secretInputs(scope, manifest, driver, ctx) : undefined;
  const decision = decideSwarmService(manifest, { now: ctx.now(), service, tasks, secretEnv }, records);
  for (const duplicate of extra) decision.actions.push({ type: "remove", id: duplicate.id, name: duplicate.spec.Name ?? duplicate.id, reason: "a second Swarm service with this service's labels" });
  let result = resultOf(scope, manifest, decision, tasks, ctx);
  if (!ctx.dryRun) {
    await carryOut(scope, manifest, decision, driver, ctx);
    await followHealth(scope, manifest, driver, ctx);
    // Old versions of its secrets go once no spec (nor the one a rollback would return to) mounts them; a
    // removed Service's all go, its key kept until its stopping tasks let them.
    const removed = !manifest;
    if (removed || (decision.actions.length === 0 && !decision.facts.rolling)) {
      const left = await pruneSecrets(scope, removed ? undefined : service, secretEnv, driver, ctx);
      if (removed && left > 0) result = { ...result, gone: false, message: `removing ${left} Swarm secret(s) its tasks still hold`, requeueAfterMs: 2_000 };
    }
  }
  return result;
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

/** A name a POSIX shell can assign. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The Swarm secrets of a Service's secret env values at its revision, made
 * when missing (not by plan), and the process the task runs, read from the
 * image on the manager when the manifest does not say (pulled there first if
 * it may be). Undefined when the Service has no secret env values.
 */
async function secretInputs(scope: SwarmScope, service: DesiredService, driver: Driver, ctx: PassContext): Promise<SecretInputs | undefined> {
  const variables = secretVariables(service);
  if (variables.length === 0) return undefined;
  const unfit = variables.find((v) => !SHELL_NAME.test(v.variable));
  if (unfit) throw new TerminalReconcileError(`${scope.key}: secret env variable "${unfit.variable}" cannot be set by a shell, which a swarm target reads secret values with; expected a name of letters, digits and '_', not starting with a digit, e.g. ${unfit.variable.replace(/[^A-Za-z0-9_]/g, "_")}`);
  const swarm = driver.swarm!;
  let image = await swarm.imageProcess(service.image.ref);
  if (!image && !ctx.dryRun) {
    const reason = `${scope.key}: read the image's entrypoint for its secret env values`;
    if (service.image.build) await buildServiceImage(driver, service, service.image.ref, scope.key, reason);
    else if (service.image.pullPolicy !== "Never") await pullWithCredentials(driver, service.image.ref, reason, ctx.pullCredentials?.(scope.target, service.image.ref));
    image = await swarm.imageProcess(service.image.ref);
  }
  const argv = processOf(service, image ?? {});
  // plan does not build or pull: an image not on the manager leaves the process unknown, and plan says a rollout.
  if (argv.length === 0 && ctx.dryRun) return { secrets: [], argv };
  if (argv.length === 0) throw new TerminalReconcileError(`${scope.key}: its secret env values are read in front of its process on a swarm target, but neither the manifest nor image ${service.image.ref} (on the manager) says what the process is; expected command: or entrypoint: in the Service, e.g. command: [/app/server]`);
  const existing = new Map((await swarm.listSecrets(ownerFilter(scope))).map((s) => [s.name, s.id]));
  const labels = { [LABEL.managed]: "true", [LABEL.target]: scope.target, [LABEL.project]: scope.project, [LABEL.environment]: scope.environment, [LABEL.service]: scope.service, [LABEL.specHash]: service.specHash };
  const secrets = [];
  for (const { variable, value } of variables) {
    const name = secretName(service, variable);
    let id = existing.get(name) ?? "";
    if (!id && !ctx.dryRun) {
      id = await swarm.createSecret(name, value, labels, `${scope.key}: secret env ${variable} of revision ${service.specHash.slice(0, 12)}`);
      ctx.log.info("swarm secret created", { target: scope.target, service: scope.key, object: name, variable });
    }
    secrets.push({ variable, name, id });
  }
  return { secrets, argv };
}

/** Removes the Service's secrets that nothing mounts; returns how many are left (held by tasks still stopping). */
async function pruneSecrets(scope: SwarmScope, service: SwarmService | undefined, secretEnv: SecretInputs | undefined, driver: Driver, ctx: PassContext): Promise<number> {
  const mounted = (spec: SwarmService["spec"] | undefined) => ((spec?.TaskTemplate as { ContainerSpec?: { Secrets?: { SecretID?: string }[] } } | undefined)?.ContainerSpec?.Secrets ?? []).map((s) => s.SecretID);
  const keep = new Set([...mounted(service?.spec), ...mounted(service?.previousSpec), ...(secretEnv?.secrets.map((s) => s.id) ?? [])]);
  let left = 0;
  for (const secret of await driver.swarm!.listSecrets(ownerFilter(scope))) {
    if (keep.has(secret.id)) continue;
    // A task still stopping may hold it: the next quiet pass tries again.
    await driver.swarm!.removeSecret(secret.id, secret.name, `${scope.key}: no longer mounted by its Swarm service`).then(
      () => ctx.log.info("swarm secret removed", { target: scope.target, service: scope.key, object: secret.name }),
      () => void left++,
    );
  }
  return left;
}
