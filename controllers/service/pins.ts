import type { RolloutRecord } from "./rollout-machine.ts";

/**
 * A service held on another revision than its manifest asks for: after an
 * automatic rollback (so a failed revision is not retried in a loop), after an
 * operator's rollback, or frozen after a failure without autoRollback
 * (`runRevision` null). A pin with reason `retry` asks for the manifest's
 * revision once more. Every pin holds only while the manifest still asks for
 * `manifestRevision`.
 */
export interface Pin {
  service: string;
  manifestRevision: string;
  runRevision: string | null;
  reason: string;
  since: number;
}

/** The reason that marks an operator's `rollout retry`. */
export const RETRY = "retry";

/**
 * The pin a finished rollout leaves: a pin, null to clear any, undefined to
 * leave it. A first rollout that failed leaves none: it is retried with
 * backoff like any other error, since nothing else could serve instead.
 */
export function pinAfter(record: RolloutRecord, since: number): Pin | null | undefined {
  const { context, state } = record;
  const { manifestRevision, key: service } = context;
  if (state === "rolledBack" && context.previous !== manifestRevision) return { service, manifestRevision, runRevision: context.previous!, reason: `rolled back: ${context.failure}`, since };
  if (state === "stalled" && context.previous === undefined) return null;
  if (state === "stalled" || state === "rollbackFailed") return { service, manifestRevision, runRevision: null, reason: `rollout failed: ${context.failure}`, since };
  if (state === "rolledBack" || (state === "complete" && context.revision === manifestRevision)) return null;
  return undefined;
}

/** Whether a pin keeps the service off its manifest's revision (a retry request does not). */
export function holds(pin: Pin | undefined): pin is Pin {
  return !!pin && pin.reason !== RETRY;
}
