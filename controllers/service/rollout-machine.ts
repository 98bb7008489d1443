import { assign, fromPromise, setup } from "xstate";
import { errorOf, messageOf, outputOf } from "../../src/engine/actor-events.ts";

/** Where a rollout is, as `berth rollout status` shows it. */
export type RolloutPhase = "Initiated" | "Building" | "Deploying" | "HealthCheck" | "Complete" | "Failed" | "RollingBack" | "RolledBack";

/** What asked for a rollout. */
export type RolloutTrigger = "manifest" | "rollback" | "retry";

export interface RolloutInput {
  /** The Service key, e.g. `Service/production/web`. */
  key: string;
  /** Spec hash being rolled out. */
  revision: string;
  /** The manifest's spec hash when the rollout began (differs from `revision` for an operator's rollback). */
  manifestRevision: string;
  /** Spec hash running before, restored on failure; none for a first rollout. */
  previous?: string;
  autoRollback: boolean;
  healthTimeoutMs: number;
  trigger: RolloutTrigger;
}

export interface RolloutContext extends RolloutInput {
  phase: RolloutPhase;
  deploymentId?: number;
  /** Deploy steps taken so far. */
  steps: number;
  /** Replica slots whose new container is not ready yet. */
  waiting: number[];
  /** What made the rollout fail: the failing check and its last output. */
  failure?: string;
  /** Why putting the previous revision back did not work. */
  rollbackError?: string;
}

export type RolloutEvent =
  /** Sent after a restore from a persisted snapshot: timers do not survive a restart, so health waits start over. */
  | { type: "RESUME" }
  /** A newer revision replaces this one mid-way. */
  | { type: "SUPERSEDE"; revision: string };

/** Output of one deploy step. */
export interface StepResult {
  done: boolean;
  waiting: number[];
}

type RevisionInput = { key: string; revision: string };

function notProvided<T, I>(name: string) {
  return fromPromise<T, I>(async () => {
    throw new Error(`the ${name} actor was not provided`);
  });
}

/**
 * One rollout of one Service revision:
 * Initiated -> Building -> Deploying <-> HealthCheck -> Complete, or
 * Failed -> RollingBack -> RolledBack. Every actor is idempotent and re-reads
 * Docker, so a snapshot restored after a crash simply runs its state's actor
 * again. Health waits are bounded by `healthTimeoutMs` per step.
 */
export const rolloutMachine = setup({
  types: {} as { context: RolloutContext; events: RolloutEvent; input: RolloutInput },
  actors: {
    openDeployment: notProvided<number, RolloutContext>("openDeployment"),
    prepareImage: notProvided<void, RevisionInput>("prepareImage"),
    deployStep: notProvided<StepResult, RevisionInput & { steps: number }>("deployStep"),
    awaitHealthy: notProvided<void, RevisionInput>("awaitHealthy"),
    cleanUp: notProvided<void, RevisionInput>("cleanUp"),
    restore: notProvided<void, RevisionInput>("restore"),
  },
  delays: { healthTimeout: ({ context }) => context.healthTimeoutMs },
  guards: {
    finished: ({ event }) => outputOf<StepResult>(event).done,
    canRollBack: ({ context }) => context.autoRollback && context.previous !== undefined && context.previous !== context.revision,
  },
  actions: {
    enterPhase: assign({ phase: (_, params: { phase: RolloutPhase }) => params.phase }),
    recordStep: assign({ steps: ({ context }) => context.steps + 1, waiting: ({ event }) => outputOf<StepResult>(event).waiting }),
    recordFailure: assign({ failure: ({ event }) => messageOf(errorOf(event)) }),
    recordTimeout: assign({
      failure: ({ context }) => `slot(s) ${context.waiting.join(", ")} not ready within ${Math.round(context.healthTimeoutMs / 1000)} s`,
    }),
    recordSuperseded: assign({
      failure: ({ event }) => {
        const by = (event as { revision: string }).revision;
        return /^[0-9a-f]{64}$/.test(by) ? `superseded by revision ${by.slice(0, 12)}` : `superseded: ${by}`;
      },
    }),
    recordRollbackError: assign({ rollbackError: ({ event }) => messageOf(errorOf(event)) }),
    recordRollbackTimeout: assign({
      rollbackError: ({ context }) => `previous revision not ready within ${Math.round(context.healthTimeoutMs / 1000)} s`,
    }),
  },
}).createMachine({
  id: "rollout",
  context: ({ input }) => ({ ...input, phase: "Initiated", steps: 0, waiting: [] }),
  initial: "initiated",
  states: {
    // Superseding waits while the rollout's row is opened (so it is never left pending) and while it cleans up (it succeeded).
    initiated: {
      invoke: {
        src: "openDeployment",
        input: ({ context }) => context,
        onDone: { target: "building", actions: assign({ deploymentId: ({ event }) => event.output }) },
        onError: { target: "failed", actions: "recordFailure" },
      },
    },
    building: {
      entry: { type: "enterPhase", params: { phase: "Building" } },
      on: { SUPERSEDE: { target: "superseded", actions: "recordSuperseded" } },
      invoke: {
        src: "prepareImage",
        input: ({ context }) => ({ key: context.key, revision: context.revision }),
        onDone: "deploying",
        onError: { target: "failed", actions: "recordFailure" },
      },
    },
    deploying: {
      entry: { type: "enterPhase", params: { phase: "Deploying" } },
      on: { SUPERSEDE: { target: "superseded", actions: "recordSuperseded" } },
      invoke: {
        src: "deployStep",
        input: ({ context }) => ({ key: context.key, revision: context.revision, steps: context.steps }),
        onDone: [
          { guard: "finished", target: "completing", actions: "recordStep" },
          { target: "healthCheck", actions: "recordStep" },
        ],
        onError: { target: "failed", actions: "recordFailure" },
      },
    },
    healthCheck: {
      entry: { type: "enterPhase", params: { phase: "HealthCheck" } },
      on: { RESUME: { target: "healthCheck", reenter: true }, SUPERSEDE: { target: "superseded", actions: "recordSuperseded" } },
      after: { healthTimeout: { target: "failed", actions: "recordTimeout" } },
      invoke: {
        src: "awaitHealthy",
        input: ({ context }) => ({ key: context.key, revision: context.revision }),
        onDone: "deploying",
        onError: { target: "failed", actions: "recordFailure" },
      },
    },
    completing: {
      entry: { type: "enterPhase", params: { phase: "Complete" } },
      // The new revision runs healthy; a clean-up that fails is finished by the service's next reconcile.
      invoke: { src: "cleanUp", input: ({ context }) => ({ key: context.key, revision: context.revision }), onDone: "complete", onError: "complete" },
    },
    complete: { type: "final" },
    failed: {
      entry: { type: "enterPhase", params: { phase: "Failed" } },
      always: [{ guard: "canRollBack", target: "rollingBack" }, { target: "stalled" }],
    },
    /** Failed, with nothing to go back to or autoRollback off: containers stay as they are. */
    stalled: { type: "final" },
    rollingBack: {
      entry: { type: "enterPhase", params: { phase: "RollingBack" } },
      on: { SUPERSEDE: { target: "superseded", actions: "recordSuperseded" } },
      invoke: {
        src: "restore",
        input: ({ context }) => ({ key: context.key, revision: context.previous! }),
        onDone: "verifyingRollback",
        onError: { target: "rollbackFailed", actions: "recordRollbackError" },
      },
    },
    verifyingRollback: {
      on: { RESUME: { target: "verifyingRollback", reenter: true }, SUPERSEDE: { target: "superseded", actions: "recordSuperseded" } },
      after: { healthTimeout: { target: "rollbackFailed", actions: "recordRollbackTimeout" } },
      invoke: {
        src: "awaitHealthy",
        input: ({ context }) => ({ key: context.key, revision: context.previous! }),
        onDone: "rolledBack",
        onError: { target: "rollbackFailed", actions: "recordRollbackError" },
      },
    },
    rolledBack: { type: "final", entry: { type: "enterPhase", params: { phase: "RolledBack" } } },
    rollbackFailed: { type: "final", entry: { type: "enterPhase", params: { phase: "Failed" } } },
    superseded: { type: "final", entry: { type: "enterPhase", params: { phase: "Failed" } } },
  },
});

/** How a finished rollout ended, for its deployments row. */
export function rolloutOutcome(state: string): "success" | "failed" | "rolled_back" | undefined {
  if (state === "complete") return "success";
  if (state === "rolledBack") return "rolled_back";
  if (state === "stalled" || state === "rollbackFailed" || state === "superseded") return "failed";
  return undefined;
}
