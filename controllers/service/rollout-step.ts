import type { DesiredService } from "../../src/desired/model.ts";
import { describeCheck } from "../../src/health/describe.ts";
import { planImage, type ServiceAction } from "./plan.ts";
import { advanceRollout, rolloutOutcome, type RolloutEvent, type RolloutRecord } from "./rollout-machine.ts";
import { planCleanup, planRestore, planRolloutStep, readiness, type ReplicaView } from "./rollout-plan.ts";

/** What one pass saw of the service's containers and images, for the rollout in flight. */
export interface RolloutWorld {
  now: number;
  /** The service's containers with readiness (every revision). */
  views: readonly ReplicaView[];
  /** Whether an image is on the target; undefined when this pass did not look. */
  imagePresent(ref: string): boolean | undefined;
  /** The last output of a container's health check, to explain a failure. */
  checkOutput(containerId: string): string | undefined;
  /**
   * Whether the health of every running container of an older revision is
   * known yet. Right after a start nothing has been probed: an old container
   * that serves must not be taken for one that does not.
   */
  oldHealthKnown?: boolean;
}

/** The next step of a rollout: the record to write first, then the actions to carry out. */
export interface RolloutStepResult {
  record: RolloutRecord;
  actions: ServiceAction[];
  /** Look again after this long (0: at once); the step's outcome decides. */
  requeueAfterMs: number;
}

/** How soon a health wait looks again; container events and probe changes also queue the service. */
export const HEALTH_POLL_MS = 500;

/**
 * Takes at most one step of a rollout from what Docker shows now. Pure:
 * `target` and `previous` are the service at the rollout's and the previous
 * revision. A step half-carried-out before a crash is planned again from the
 * world, never repeated blindly.
 */
export function stepRollout(record: RolloutRecord, target: DesiredService, previous: DesiredService | undefined, world: RolloutWorld, pollMs = HEALTH_POLL_MS): RolloutStepResult {
  const next = (event: RolloutEvent, actions: ServiceAction[] = [], requeueAfterMs = 0): RolloutStepResult => ({ record: advanceRollout(record, event), actions, requeueAfterMs });
  const stay = (actions: ServiceAction[], requeueAfterMs: number): RolloutStepResult => ({ record, actions, requeueAfterMs });
  const { context } = record;

  switch (record.state) {
    case "building": {
      const present = world.imagePresent(target.image.ref);
      if (present) return next({ type: "IMAGE_READY" });
      // Not looked at by this pass (it began the rollout): the next pass, which looks, decides.
      if (present === undefined) return stay([], 0);
      if (!target.image.build && target.image.pullPolicy === "Never") {
        const why = target.specHash === context.manifestRevision ? "imagePullPolicy is Never; expected it built or loaded there first" : "built images are pruned beyond the newest five; expected the manifest reverted to that revision, so it is built again";
        return next({ type: "FAILED", failure: `image ${target.image.ref} of revision ${context.revision.slice(0, 12)} is not on DeploymentTarget/${target.target} (${why})` });
      }
      return stay(planImage(target.image, false), 0);
    }
    case "deploying": {
      if (world.oldHealthKnown === false) return stay([], Math.min(pollMs, 100));
      const step = planRolloutStep(target, world.views, { replaceFailed: context.steps === 0 });
      if (step.failure) return next({ type: "FAILED", failure: explain(step.failure, target, world) });
      // Without a health check a started container is ready at once: look again soon rather than at the health poll.
      // Nothing waiting (the step only stopped old containers): look again at once.
      const wait = step.done || step.waiting.length === 0 ? 0 : target.healthCheck ? pollMs : Math.min(pollMs, 100);
      return next({ type: "STEPPED", done: step.done, waiting: step.waiting, now: world.now }, step.actions, wait);
    }
    case "healthCheck": {
      // A container a crash left created but never started is started by the deploy step, not waited out.
      if (world.views.some((c) => c.specHash === target.specHash && c.state === "created")) return next({ type: "REDEPLOY" });
      const { ready, failure } = readiness(target, world.views);
      if (failure) return next({ type: "FAILED", failure: explain(failure, target, world) });
      if (ready) return next({ type: "READY" });
      if (context.deadline !== undefined && world.now >= context.deadline) return next({ type: "TIMED_OUT", failure: timedOut(context.waiting, context.healthTimeoutMs, target, world) });
      return stay([], pollMs);
    }
    case "completing": {
      const actions: ServiceAction[] = planCleanup(target, world.views);
      if (target.image.build) actions.push({ type: "prune-images", reason: "keep the newest built images of the service" });
      return next({ type: "CLEANED" }, actions);
    }
    case "rollingBack": {
      if (!previous) return next({ type: "ROLLBACK_FAILED", error: "the previous revision's spec is unknown" });
      const kept = world.views.some((c) => c.specHash === previous.specHash);
      const present = world.imagePresent(previous.image.ref);
      if (present === undefined && !kept) return stay([], 0); // this pass did not look; the next one does
      if (!present && !kept) return next({ type: "ROLLBACK_FAILED", error: `image ${previous.image.ref} of revision ${previous.specHash.slice(0, 12)} is no longer on DeploymentTarget/${previous.target}` });
      return next({ type: "RESTORED", now: world.now }, planRestore(previous, world.views), pollMs);
    }
    case "verifyingRollback": {
      if (!previous) return next({ type: "ROLLBACK_FAILED", error: "the previous revision's spec is unknown" });
      const timedOut = context.deadline !== undefined && world.now >= context.deadline;
      const late = `previous revision not ready within ${Math.round(context.healthTimeoutMs / 1000)} s`;
      // Restoring is idempotent: anything a crash left undone is done again before the previous revision is judged.
      const missing = planRestore(previous, world.views);
      if (missing.length) return timedOut ? next({ type: "ROLLBACK_FAILED", error: late }) : stay(missing, pollMs);
      const { ready, failure } = readiness(previous, world.views);
      if (failure) return next({ type: "ROLLBACK_FAILED", error: failure });
      if (ready) return next({ type: "ROLLED_BACK" });
      return timedOut ? next({ type: "ROLLBACK_FAILED", error: late }) : stay([], pollMs);
    }
    default:
      // A final record is never stepped: its pass ends the rollout.
      return stay([], 0);
  }
}

/** A pass's progress: the last step's result, and every record it moved through, in order. */
export interface RolloutPassResult extends RolloutStepResult {
  passed: RolloutRecord[];
}

/**
 * Takes a rollout as far as one look at the world allows: steps that need
 * no action and no wait (image already there, a slot turned ready, the last
 * step done) are chained, so a rollout is not paced by passes; it stops at
 * the first step that acts, waits or ends.
 */
export function stepRolloutPass(record: RolloutRecord, target: DesiredService, previous: DesiredService | undefined, world: RolloutWorld, pollMs = HEALTH_POLL_MS): RolloutPassResult {
  const passed: RolloutRecord[] = [];
  let current = record;
  for (let steps = 0; ; steps++) {
    const step = stepRollout(current, target, previous, world, pollMs);
    const moved = step.record !== current;
    if (moved) passed.push(step.record);
    current = step.record;
    // Bounded: the machine has no cycle without an action or a wait, but a bug must not spin a worker.
    if (!moved || step.actions.length || step.requeueAfterMs > 0 || rolloutOutcome(current.state) || steps >= 10) return { ...step, passed };
  }
}

/** Ends a rollout because something newer asks for the service. */
export function supersedeRollout(record: RolloutRecord, by: string): RolloutRecord {
  return rolloutOutcome(record.state) || record.state === "completing" ? record : advanceRollout(record, { type: "SUPERSEDE", by });
}

/** Names the failing check and what it last said, for the rollout's failure and its Warning event. */
function explain(failure: string, target: DesiredService, world: RolloutWorld): string {
  const check = target.healthCheck;
  if (!check) return failure;
  const failing = world.views.find((c) => failure.includes(c.name));
  const output = failing ? world.checkOutput(failing.id) : undefined;
  return `${failure}; health check ${describeCheck(check)}${output ? ` last said: ${output}` : " has no result yet"}`;
}

/** A health wait that ran out names the slots and what their check last said. */
function timedOut(waiting: readonly number[], timeoutMs: number, target: DesiredService, world: RolloutWorld): string {
  const base = `slot(s) ${waiting.join(", ")} not ready within ${Math.round(timeoutMs / 1000)} s`;
  if (!target.healthCheck) return base;
  const said = world.views.filter((c) => c.specHash === target.specHash && waiting.includes(c.slot)).map((c) => world.checkOutput(c.id)).find((o) => o);
  return said ? `${base}; health check ${describeCheck(target.healthCheck)} last said: ${said}` : base;
}
