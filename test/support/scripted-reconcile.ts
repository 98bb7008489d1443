import { expect } from "vitest";
import { fromPromise, waitFor, type AnyActorRef } from "xstate";

/** What one reconcile does: report facts, or throw. */
export type Outcome<T> = T | { throws: unknown };

/** A reconcile actor that plays the given outcomes in order and records its inputs. */
export function scriptedReconcile<T extends object>(outcomes: Outcome<T>[]) {
  const inputs: { key: string }[] = [];
  const actor = fromPromise<T, { key: string }>(async ({ input }) => {
    inputs.push(input);
    const next = outcomes.shift();
    if (next === undefined) throw new Error("test: no outcome left for this reconcile");
    if ("throws" in next) throw next.throws;
    return next;
  });
  return { actor, inputs };
}

/** Sends RECONCILE and waits for the reconcile to settle; returns the snapshot. */
export async function reconcileOnce<A extends AnyActorRef>(actor: A) {
  actor.send({ type: "RECONCILE" });
  expect(actor.getSnapshot().value).toBe("reconciling");
  return waitFor(actor, (s) => (s as { value: unknown }).value !== "reconciling");
}
