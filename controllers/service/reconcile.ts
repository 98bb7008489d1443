import { observe, observeContainers, type ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import { executeServiceActions } from "../../src/engine/execute.ts";
import type { ReconcileDeps } from "../../src/engine/deps.ts";
import { environmentKey } from "../../src/desired/names.ts";
import { currentContainers, isReady, unmetDependencies } from "./dependencies.ts";
import { TerminalReconcileError, type ServiceFacts } from "./machine.ts";
import { completed, holdBackStarts, planImage, planService, serviceChange } from "./plan.ts";

/** How soon to look again while waiting on a dependency or on health. */
const WAIT_REQUEUE_MS = 1_000;
/** After changing something, look again soon to confirm the change took (level-triggered). */
const VERIFY_REQUEUE_MS = 200;

export class ImageMissingError extends Error {
  constructor(ref: string, target: string) {
    super(`image ${ref} is not on DeploymentTarget/${target} and imagePullPolicy is Never; expected it built or loaded there first, e.g. npm run demo:images`);
    this.name = "ImageMissingError";
  }
}

/** Converges one Service of one Environment; safe to call any number of times. */
export async function reconcileService(key: string, deps: ReconcileDeps): Promise<ServiceFacts> {
  const model = deps.model();
  const manifest = model.services.get(key);
  // A service gone from the manifests is pruned by its environment's reconcile.
  if (!manifest) {
    deps.rollouts.supersede(key, "the service was removed from the manifests");
    deps.rollouts.unpin(key);
    deps.prober.track(key, undefined, "", []);
    return { desired: 0, running: 0, ready: 0, converged: true, message: "not declared" };
  }
  if (manifest.error) throw new TerminalReconcileError(manifest.error);

  const { rollouts } = deps;
  let pin = rollouts.pin(key);
  if (pin && pin.manifestRevision !== manifest.specHash) {
    rollouts.unpin(key); // the manifest moved on: its new revision is rolled out
    pin = undefined;
  }
  const wanted = pin ? pin.runRevision : manifest.specHash;
  const active = rollouts.active(key);
  if (active) {
    // Superseded: a newer revision, or a suspension (nothing to roll out, nothing to roll back to).
    const superseded = active.revision !== wanted || manifest.suspended;
    if (superseded) rollouts.supersede(key, manifest.suspended ? "the environment was suspended" : (wanted ?? manifest.specHash));
    const of = active.waiting.length ? `, waiting for slot(s) ${active.waiting.join(", ")}` : "";
    // A rollout cannot be superseded while it opens its record or cleans up: ask again shortly.
    return { desired: manifest.suspended ? 0 : manifest.replicas, running: 0, ready: 0, converged: false, rolling: true, message: `rollout of revision ${active.revision.slice(0, 12)}: ${active.phase}${of}`, requeueAfterMs: superseded ? WAIT_REQUEUE_MS : undefined };
  }

  const desired = wanted && wanted !== manifest.specHash ? await rollouts.desiredAt(key, wanted) : manifest;
  const driver = deps.driver(desired.target);
  const scope = { project: desired.project, environment: desired.environment };
  const containers = await observeContainers(driver, scope);
  const own = containers.filter((c) => c.service === desired.service);
  const network = model.environments.get(desired.environment)!.network;
  deps.prober.track(key, desired.healthCheck, network, own, driver.healthLogReader, driver.dial);
  if (pin && !pin.runRevision && !desired.suspended) {
    // A failed rollout without a rollback: the containers stay as they are for inspection, nothing is retried.
    return { ...facts(desired, own, deps, true, undefined, undefined), held: `${pin.reason}; Berth waits for a new revision of the container spec in the manifests or berth rollout retry` };
  }

  // A dependency held on another revision (rolled back, or mid-rollout) is judged by the containers it runs.
  const peers = new Map(model.environments.get(desired.environment)!.services.map((s) => [s.service, { ...s, specHash: rollouts.pin(s.key)?.runRevision ?? (rollouts.active(s.key) ? (rollouts.deployed(s.key) ?? s.specHash) : s.specHash) }]));
  const waiting = unmetDependencies(desired, peers, containers, deps.healthOf);
  const revisionRuns = own.some((c) => c.specHash !== desired.specHash && c.slot >= 0 && c.slot < desired.replicas && c.state === "running");
  const needsRollout = !desired.suspended && desired.replicas > 0 && (rollouts.deployed(key) !== desired.specHash || revisionRuns);
  let actions = needsRollout ? [] : planService(desired, own);
  if (waiting.length) actions = holdBackStarts(actions);

  if ((needsRollout && !waiting.length) || actions.some((a) => a.type === "create")) {
    const shared = await observe(driver, scope);
    const environment = model.environments.get(desired.environment)!;
    // Docker would create a missing volume itself, without Berth's labels: let the environment make it first.
    const ready =
      [network, ...desired.extraNetworks].every((n) => shared.networks.some((o) => o.name === n)) &&
      environment.volumes.every((v) => shared.volumes.some((o) => o.name === v));
    if (!ready) {
      deps.enqueue(environmentKey(desired.environment));
      return facts(desired, own, deps, false, "waiting for the environment's network and volumes", WAIT_REQUEUE_MS);
    }
  }
  if (needsRollout && !waiting.length) {
    // Without any history (containers from before Berth recorded rollouts) the revision most containers run is the one to go back to.
    const previous = rollouts.deployed(key) ?? (rollouts.hasHistory(key) ? undefined : mostCommonRunning(own, desired.specHash));
    await rollouts.begin(desired, manifest.specHash, previous);
    return { ...facts(desired, own, deps, false, `rollout of revision ${desired.specHash.slice(0, 12)} started`, undefined), rolling: true };
  }
  if (actions.some((a) => a.type === "create")) {
    const present = await driver.imageExists(desired.image.ref);
    if (!present && desired.image.pullPolicy === "Never" && !desired.image.build) throw new ImageMissingError(desired.image.ref, desired.target);
    actions = [...planImage(desired.image, present), ...actions];
  }

  await executeServiceActions(driver, desired, actions, deps.log);
  const after = actions.length ? (await observeContainers(driver, { ...scope, service: desired.service })) : own;
  if (actions.length) deps.prober.track(key, desired.healthCheck, network, after, driver.healthLogReader, driver.dial);
  const message = waiting.length ? `waiting for ${waiting.join(", ")}` : undefined;
  const held = pin ? `${pin.reason}; runs revision ${desired.specHash.slice(0, 12)} until the container spec in the manifests changes or berth rollout retry` : undefined;
  return {
    ...facts(desired, after, deps, actions.length === 0 && waiting.length === 0, message, waiting.length ? WAIT_REQUEUE_MS : actions.length ? VERIFY_REQUEUE_MS : undefined),
    changes: actions.map(serviceChange),
    held,
  };
}

/** The revision most running containers have, besides `except`: what a first rollout over existing containers replaces. */
function mostCommonRunning(containers: readonly ObservedContainer[], except: string): string | undefined {
  const counts = new Map<string, number>();
  for (const c of containers) if (c.state === "running" && c.specHash !== except) counts.set(c.specHash, (counts.get(c.specHash) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

function facts(
  desired: DesiredService,
  containers: readonly ObservedContainer[],
  deps: ReconcileDeps,
  converged: boolean,
  message: string | undefined,
  requeueAfterMs: number | undefined,
): ServiceFacts {
  const current = currentContainers(desired, containers);
  // A one-shot container that finished well has done what it is for.
  const done = current.filter((c) => completed(c, desired.restartPolicy)).length;
  const running = current.filter((c) => c.state === "running").length + done;
  const ready = current.filter((c) => isReady(c, desired, deps.healthOf)).length + done;
  const want = desired.suspended ? 0 : desired.replicas;
  const stillRunning = desired.suspended ? containers.filter((c) => c.state === "running").length : running;
  // Running but not yet healthy: look again soon rather than at the next resync.
  const healthPending = !desired.suspended && ready < running;
  return {
    desired: want,
    running: stillRunning,
    ready,
    converged,
    message: message ?? `${running}/${want} running, ${ready} ready`,
    requeueAfterMs: requeueAfterMs ?? (healthPending ? WAIT_REQUEUE_MS : undefined),
  };
}
