import { setTimeout as sleep } from "node:timers/promises";
import { pruneBuiltImages } from "../../src/docker/image-gc.ts";
import { observeContainers } from "../../src/docker/observe.ts";
import { describeCheck } from "../../src/health/prober.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import type { ReconcileDeps } from "../../src/engine/deps.ts";
import { TargetUnavailableError } from "../../src/engine/target-unavailable.ts";
import { executeServiceActions } from "../../src/engine/execute.ts";
import { isReady } from "./dependencies.ts";
import { completed, planImage, serviceChange, type ServiceAction } from "./plan.ts";
import type { Change } from "../../src/engine/observer.ts";
import { ImageMissingError } from "./reconcile.ts";
import type { StepResult } from "./rollout-machine.ts";
import { planCleanup, planRestore, planRolloutStep, readiness, type ReplicaView } from "./rollout-plan.ts";

/** What the rollout actors need besides what every reconcile gets. */
export interface RolloutActorDeps extends ReconcileDeps {
  /** The service as it runs at a revision: the manifest's current one, or a stored one. */
  desiredAt(key: string, revision: string): Promise<DesiredService>;
  /** How soon a health wait looks again at first (default 500 ms); it backs off to eight times that, so many rollouts at once do not flood a remote engine. */
  pollMs?: number;
  /** Images of revisions that recently ran successfully (in any environment): kept for rollbacks. */
  rollbackImages?(): Promise<Set<string>>;
  /** Hears every Docker change a rollout makes, for the service's events. */
  onChanges?(key: string, changes: Change[]): void;
}

/** Applies a rollout's actions and reports them as the service's changes. */
async function apply(key: string, desired: DesiredService, actions: readonly ServiceAction[], deps: RolloutActorDeps, signal?: AbortSignal): Promise<void> {
  if (!actions.length) return;
  await executeServiceActions(await driverOf(deps, desired.target, signal), desired, actions, deps.log);
  if (actions.length) deps.onChanges?.(key, actions.map(serviceChange));
}

/** A rollout cannot go on: a new container failed its check, exited, or its image is missing. */
export class RolloutFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RolloutFailedError";
  }
}

type RevisionInput = { key: string; revision: string };

/** The target's driver; while the target is unreachable (e.g. just after a restart) the rollout waits for it rather than failing. */
async function driverOf(deps: RolloutActorDeps, target: string, signal?: AbortSignal) {
  for (;;) {
    try {
      return deps.driver(target);
    } catch (error) {
      if (!(error instanceof TargetUnavailableError)) throw error;
      await sleep(1_000, undefined, { signal });
    }
  }
}

/** The service at a revision and its containers as Docker shows them now, with health. */
async function look(input: RevisionInput, deps: RolloutActorDeps, signal?: AbortSignal) {
  const desired = await deps.desiredAt(input.key, input.revision);
  const driver = await driverOf(deps, desired.target, signal);
  const network = deps.model().environments.get(desired.environment)?.network ?? "";
  const own = await observeContainers(driver, { project: desired.project, environment: desired.environment, service: desired.service });
  deps.prober.track(input.key, desired.healthCheck, network, own, driver.healthLogReader, driver.dial);
  const views: ReplicaView[] = own.map((c) => {
    const done = completed(c, desired.restartPolicy);
    return { ...c, ready: done || isReady(c, desired, deps.healthOf), completed: done, unhealthy: !!desired.healthCheck && deps.healthOf(c, desired) === "unhealthy" };
  });
  return { desired, driver, views };
}

/** Names the failing check and what it last said, for the rollout's failure and its Warning event. */
async function explain(failure: string, views: readonly ReplicaView[], desired: DesiredService, deps: RolloutActorDeps): Promise<string> {
  const check = desired.healthCheck;
  if (!check) return failure;
  const what = describeCheck(check);
  const failing = views.find((c) => failure.includes(c.name));
  let output = failing ? deps.prober.lastResult(failing.id)?.output : undefined;
  if (failing && output === undefined && check.exec) {
    const log = await deps.driver(desired.target).healthLog(failing.id).catch(() => []);
    output = log.at(-1)?.output.trim();
  }
  return `${failure}; health check ${what}${output ? ` last said: ${output.slice(0, 300)}` : " has no result yet"}`;
}

/** Builds or pulls the revision's image when it is not there yet. */
export async function prepareImage(input: RevisionInput, deps: RolloutActorDeps, signal?: AbortSignal): Promise<void> {
  const desired = await deps.desiredAt(input.key, input.revision);
  const driver = await driverOf(deps, desired.target, signal);
  const present = await driver.imageExists(desired.image.ref);
  if (!present && desired.specHash !== deps.model().services.get(input.key)?.specHash && !desired.image.build && desired.image.pullPolicy === "Never") {
    throw new RolloutFailedError(`image ${desired.image.ref} of revision ${input.revision.slice(0, 12)} is no longer on DeploymentTarget/${desired.target} (built images are pruned beyond the newest five); expected the manifest reverted to that revision, so it is built again`);
  }
  if (!present && desired.image.pullPolicy === "Never" && !desired.image.build) throw new RolloutFailedError(new ImageMissingError(desired.image.ref, desired.target).message);
  await apply(input.key, desired, planImage(desired.image, present), deps, signal);
}

/** Takes the next rolling or recreate step from what Docker shows now. */
export async function deployStep(input: RevisionInput & { steps: number }, deps: RolloutActorDeps, signal?: AbortSignal): Promise<StepResult> {
  const { desired, views } = await look(input, deps, signal);
  const step = planRolloutStep(desired, views, { replaceFailed: input.steps === 0 });
  if (step.failure) throw new RolloutFailedError(await explain(step.failure, views, desired, deps));
  await apply(input.key, desired, step.actions, deps, signal);
  if (step.actions.length) await look(input, deps); // probe the new containers from now on
  return { done: step.done, waiting: step.waiting };
}

/** Resolves once every container of the revision is ready; fails as soon as one cannot become ready. */
export async function awaitHealthy(input: RevisionInput, deps: RolloutActorDeps, signal: AbortSignal): Promise<void> {
  const first = deps.pollMs ?? 500;
  let wait = first;
  for (;;) {
    const { desired, views } = await look(input, deps, signal);
    const { ready, failure } = readiness(desired, views);
    if (failure) throw new RolloutFailedError(await explain(failure, views, desired, deps));
    if (ready) return;
    await sleep(wait, undefined, { signal });
    wait = Math.min(wait * 2, first * 8);
  }
}

/** After success: the old revision's containers go, and built images beyond the newest few. */
export async function cleanUp(input: RevisionInput, deps: RolloutActorDeps, signal?: AbortSignal): Promise<void> {
  const { desired, driver, views } = await look(input, deps, signal);
  await apply(input.key, desired, planCleanup(desired, views), deps, signal);
  if (!desired.image.build) return;
  const all = await observeContainers(driver, {});
  const keep = new Set([...all.flatMap((c) => (c.image ? [c.image] : [])), ...((await deps.rollbackImages?.()) ?? [])]);
  const removed = await pruneBuiltImages(driver, desired, keep);
  if (removed.length) deps.log.info("built images pruned", { service: input.key, images: removed.join(",") });
}

/** Puts a revision back: its stopped containers start again, missing ones are recreated, all others go. */
export async function restore(input: RevisionInput, deps: RolloutActorDeps, signal?: AbortSignal): Promise<void> {
  const { desired, driver, views } = await look(input, deps, signal);
  if (!(await driver.imageExists(desired.image.ref))) {
    const present = views.some((c) => c.specHash === input.revision);
    if (!present) throw new RolloutFailedError(`image ${desired.image.ref} of revision ${input.revision.slice(0, 12)} is no longer on DeploymentTarget/${desired.target}`);
  }
  await apply(input.key, desired, planRestore(desired, views), deps, signal);
  await look(input, deps);
}
