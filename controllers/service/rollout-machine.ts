import { assign, initialTransition, setup, transition } from "xstate";

/** Where a rollout is, as `berth rollout status` shows it. */
export type RolloutPhase = "Building" | "Deploying" | "HealthCheck" | "Complete" | "Failed" | "RollingBack" | "RolledBack";

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
  /** The rollout's deployments row, opened before the record is first written. */
  deploymentId: number;
  startedAt: number;
}

/** The persisted record of one rollout: the only place its progress lives. */
export interface RolloutContext extends RolloutInput {
  phase: RolloutPhase;
  /** Deploy steps taken so far. */
  steps: number;
  /** Replica slots whose new container is not ready yet. */
  waiting: number[];
  /** When the health wait in progress gives up (epoch ms). */
  deadline?: number;
  /** What made the rollout fail: the failing check and its last output. */
  failure?: string;
  /** Why putting the previous revision back did not work. */
  rollbackError?: string;
}

/** What a reconcile pass observed about the rollout, as one event. */
export type RolloutEvent =
  | { type: "IMAGE_READY" }
  | { type: "STEPPED"; done: boolean; waiting: number[]; now: number }
  | { type: "READY" }
  /** The step is not fully carried out (a crash between writing and acting): deploy it again. */
  | { type: "REDEPLOY" }
  | { type: "FAILED"; failure: string }
  | { type: "TIMED_OUT"; failure: string }
  | { type: "CLEANED" }
  | { type: "RESTORED"; now: number }
  | { type: "ROLLBACK_FAILED"; error: string }
  | { type: "ROLLED_BACK" }
  /** A newer revision (or a suspension, or the service's removal) replaces this one. */
  | { type: "SUPERSEDE"; by: string };

/**
 * One rollout of one Service revision, as pure transitions over a persisted
 * record: Building -> Deploying <-> HealthCheck -> Complete, or
 * Failed -> RollingBack -> RolledBack. Nothing here waits or calls Docker:
 * each reconcile pass observes, sends one event, writes the next record, and
 * only then carries out the actions that step needs.
 */
export const rolloutMachine = setup({
  types: {} as { context: RolloutContext; events: RolloutEvent; input: RolloutInput },
  guards: {
    finished: ({ event }) => event.type === "STEPPED" && event.done,
    canRollBack: ({ context }) => context.autoRollback && context.previous !== undefined && context.previous !== context.revision,
  },
  actions: {
    enterPhase: assign({ phase: (_, params: { phase: RolloutPhase }) => params.phase }),
    recordStep: assign(({ context, event }) => (event.type === "STEPPED" ? { steps: context.steps + 1, waiting: event.waiting, deadline: event.now + context.healthTimeoutMs } : {})),
    recordFailure: assign({ failure: ({ event }) => (event.type === "FAILED" || event.type === "TIMED_OUT" ? event.failure : undefined) }),
    recordSuperseded: assign({
      failure: ({ event }) => {
        const by = event.type === "SUPERSEDE" ? event.by : "";
        return /^[0-9a-f]{64}$/.test(by) ? `superseded by revision ${by.slice(0, 12)}` : `superseded: ${by}`;
      },
    }),
    recordRestored: assign(({ context, event }) => (event.type === "RESTORED" ? { deadline: event.now + context.healthTimeoutMs } : {})),
    recordRollbackError: assign({ rollbackError: ({ event }) => (event.type === "ROLLBACK_FAILED" ? event.error : undefined) }),
  },
}).createMachine({
  id: "rollout",
  context: ({ input }) => ({ ...input, phase: "Building", steps: 0, waiting: [] }),
  initial: "building",
  states: {
    building: {
      entry: { type: "enterPhase", params: { phase: "Building" } },
      on: { IMAGE_READY: "deploying", FAILED: { target: "failed", actions: "recordFailure" }, ...supersedeFrom() },
    },
    deploying: {
      entry: { type: "enterPhase", params: { phase: "Deploying" } },
      on: {
        STEPPED: [
          { guard: "finished", target: "completing", actions: "recordStep" },
          { target: "healthCheck", actions: "recordStep" },
        ],
        FAILED: { target: "failed", actions: "recordFailure" },
        ...supersedeFrom(),
      },
    },
    healthCheck: {
      entry: { type: "enterPhase", params: { phase: "HealthCheck" } },
      on: { READY: "deploying", REDEPLOY: "deploying", FAILED: { target: "failed", actions: "recordFailure" }, TIMED_OUT: { target: "failed", actions: "recordFailure" }, ...supersedeFrom() },
    },
    // The new revision runs healthy; the old revision's containers go. Not superseded: it succeeded.
    completing: {
      entry: { type: "enterPhase", params: { phase: "Complete" } },
      on: { CLEANED: "complete" },
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
      on: { RESTORED: { target: "verifyingRollback", actions: "recordRestored" }, ROLLBACK_FAILED: { target: "rollbackFailed", actions: "recordRollbackError" }, ...supersedeFrom() },
    },
    verifyingRollback: {
      on: { ROLLED_BACK: "rolledBack", ROLLBACK_FAILED: { target: "rollbackFailed", actions: "recordRollbackError" }, ...supersedeFrom() },
    },
    rolledBack: { type: "final", entry: { type: "enterPhase", params: { phase: "RolledBack" } } },
    rollbackFailed: { type: "final", entry: { type: "enterPhase", params: { phase: "Failed" } } },
    superseded: { type: "final", entry: { type: "enterPhase", params: { phase: "Failed" } } },
  },
});

function supersedeFrom() {
  return { SUPERSEDE: { target: "superseded", actions: "recordSuperseded" } } as const;
}

/** The state a rollout record is in: a machine state name. */
export type RolloutState = "building" | "deploying" | "healthCheck" | "completing" | "complete" | "stalled" | "rollingBack" | "verifyingRollback" | "rolledBack" | "rollbackFailed" | "superseded";

/** What is stored per rollout: the machine's state and context. */
export interface RolloutRecord {
  state: RolloutState;
  context: RolloutContext;
}

/** A new rollout's first record. */
export function startRollout(input: RolloutInput): RolloutRecord {
  const [snapshot] = initialTransition(rolloutMachine, input);
  return { state: snapshot.value as RolloutState, context: snapshot.context };
}

/** The record after one event: pure, so plan and apply compute the same next step. */
export function advanceRollout(record: RolloutRecord, event: RolloutEvent): RolloutRecord {
  const snapshot = rolloutMachine.resolveState({ value: record.state, context: record.context });
  const [next] = transition(rolloutMachine, snapshot, event);
  return { state: next.value as RolloutState, context: next.context };
}

/** How a finished rollout ended, for its deployments row; undefined while it is in flight. */
export function rolloutOutcome(state: string): "success" | "failed" | "rolled_back" | undefined {
  if (state === "complete") return "success";
  if (state === "rolledBack") return "rolled_back";
  if (state === "stalled" || state === "rollbackFailed" || state === "superseded") return "failed";
  return undefined;
}
