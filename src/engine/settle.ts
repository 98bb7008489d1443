import type { ResourceStatus } from "./controller.ts";

/** What a wait looks at: every status, the keys whose last failure waiting cannot fix, and where each key runs. */
export interface SettleView {
  statuses: readonly ResourceStatus[];
  /** Key -> reason of its last terminal failure. */
  failures: ReadonlyMap<string, string>;
  targetOf(status: ResourceStatus): string;
  /** The keys a resource waits for before it may start (a service's dependsOn). */
  dependenciesOf?(status: ResourceStatus): string[];
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
  const stuckKeys = new Set(stuck.map(key));
  const waitingOnStuck = (s: ResourceStatus, seen = new Set<string>()): boolean => {
    if (seen.has(key(s))) return false;
    seen.add(key(s));
    if (s.kind === "Environment") return heldEnvironments.has(s.name);
    if (stuckEnvironments.has(environmentOf(s))) return true;
    // A dependent waits for its dependency: one that cannot get further holds it too (and its own dependents).
    return (view.dependenciesOf?.(s) ?? []).some((d) => stuckKeys.has(d) || waitingOnStuck(keyed.find((k) => key(k) === d) ?? s, seen));
  };
  const pending = keyed.filter((s) => !stuck.includes(s) && !waitingOnStuck(s) && (!s.converged || (view.ready && !s.ready)));
  const named = stuck.map((s) => (s.error ? s : { ...s, error: failures.get(key(s)), message: failures.get(key(s)) ?? s.message }));
  return { pending, failed: [...statuses.filter((s) => s.kind === "DeploymentTarget" && down.has(s.name)), ...named] };
}
