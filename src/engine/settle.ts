import type { ResourceStatus } from "./controller.ts";

/** What a wait looks at: every status, the keys whose last failure waiting cannot fix, and where each key runs. */
export interface SettleView {
  statuses: readonly ResourceStatus[];
  /** Key -> reason of its last terminal failure. */
  failures: ReadonlyMap<string, string>;
  targetOf(status: ResourceStatus): string;
  /** Also wait for every service to be ready, not only converged. */
  ready: boolean;
}

/**
 * Splits what a wait is still waiting for from what cannot get further
 * without an operator: a terminal failure, an unreachable target, or waiting
 * on one of those (an environment on its stuck service, a service on its
 * stuck environment). Pure, so `apply --wait` ends the moment waiting is futile.
 */
export function settleState(view: SettleView): { pending: ResourceStatus[]; failed: ResourceStatus[] } {
  const { statuses, failures } = view;
  const key = (s: ResourceStatus) => `${s.kind}/${s.name}`;
  const down = new Set(statuses.filter((s) => s.kind === "DeploymentTarget" && s.phase === "Unreachable").map((s) => s.name));
  const keyed = statuses.filter((s) => s.kind === "Service" || s.kind === "Environment");
  const stuck = keyed.filter((s) => s.terminal || failures.has(key(s)) || down.has(view.targetOf(s)));
  const environmentOf = (s: ResourceStatus) => s.name.split("/")[0]!;
  const heldEnvironments = new Set(stuck.filter((s) => s.kind === "Service").map(environmentOf));
  const stuckEnvironments = new Set(stuck.filter((s) => s.kind === "Environment").map((s) => s.name));
  const waitingOnStuck = (s: ResourceStatus) => (s.kind === "Environment" && heldEnvironments.has(s.name)) || (s.kind === "Service" && stuckEnvironments.has(environmentOf(s)));
  const pending = keyed.filter((s) => !stuck.includes(s) && !waitingOnStuck(s) && (!s.converged || (view.ready && !s.ready)));
  const named = stuck.map((s) => (s.error ? s : { ...s, error: failures.get(key(s)), message: failures.get(key(s)) ?? s.message }));
  return { pending, failed: [...statuses.filter((s) => s.kind === "DeploymentTarget" && down.has(s.name)), ...named] };
}
