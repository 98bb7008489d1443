import type { EngineInfo, TargetPhase } from "./targets.ts";
import type { EngineEvent } from "../docker/driver.ts";
import type { ContainerHealth } from "../docker/observe.ts";
import type { DesiredModel } from "../desired/model.ts";
import type { ProbeResult } from "../health/prober.ts";
import type { DesiredState } from "../manifests/load.ts";

/** One difference between Docker and the spec, as a plan step saw it. */
export interface Change {
  path: string;
  observed: string;
  desired: string;
}

/** What one reconcile of a key came to. */
export interface ReconcileOutcome {
  key: string;
  kind: "Service" | "Environment";
  name: string;
  phase: string;
  previousPhase: string;
  message: string;
  ready: boolean;
  converged: boolean;
  error?: string;
  /** The error's CamelCase cause, when it names one (e.g. ImagePullUnauthorized). */
  reason?: string;
  terminal: boolean;
  /** The error differs from the key's previous one: reported once per distinct cause. */
  newError: boolean;
  /** What the pass changed in Docker, one entry per executed plan step. */
  changes: Change[];
  /** The pass changed Docker although the spec had already converged: drift. */
  drift: boolean;
  running?: number;
  desired?: number;
  /** The container spec hash this pass converged toward (services only). */
  specHash?: string;
}

/** A rollout's record as it moved, for events and metrics. */
export interface RolloutReport {
  key: string;
  revision: string;
  previous?: string;
  trigger: string;
  /** The record's state, e.g. building, rollingBack, complete. */
  state: string;
  phase: string;
  /** Set once the rollout ended. */
  outcome?: "success" | "failed" | "rolled_back";
  failure?: string;
  rollbackError?: string;
  hasHealthCheck: boolean;
  /** The rollout's `deployments` row, once opened: what a notification reads its commit and image digest from. */
  deploymentId?: number;
}

/** Everything the manager reports; the recorder (store, metrics, events) listens. All calls are fire-and-forget. */
export interface ManagerObserver {
  desiredChanged?(state: DesiredState, model: DesiredModel): void;
  targetChanged?(name: string, phase: TargetPhase, engine: EngineInfo | undefined, error: string | undefined): void;
  reconciled?(outcome: ReconcileOutcome): void;
  /** A Project's phase, as its machine aggregates its environments. */
  projectChanged?(name: string, phase: string, environments: number): void;
  engineEvent?(target: string, event: EngineEvent): void;
  /** Docker changes made outside a reconcile (by a rollout step), as `kind`/`name`'s events. */
  changed?(kind: string, name: string, changes: readonly Change[]): void;
  /** A rollout record entered another state. */
  rolloutChanged?(rollout: RolloutReport): void;
  healthProbed?(serviceKey: string, containerId: string, status: ContainerHealth, result: ProbeResult, changed: boolean): void;
}

/** One observer that passes every report to each of `observers`, in order (the recorder, then e.g. notifications). */
export function fanOut(...observers: ManagerObserver[]): ManagerObserver {
  const each =
    <K extends keyof ManagerObserver>(name: K) =>
    (...args: Parameters<NonNullable<ManagerObserver[K]>>): void => {
      for (const observer of observers) (observer[name] as ((...a: typeof args) => void) | undefined)?.apply(observer, args);
    };
  return {
    desiredChanged: each("desiredChanged"),
    targetChanged: each("targetChanged"),
    reconciled: each("reconciled"),
    projectChanged: each("projectChanged"),
    engineEvent: each("engineEvent"),
    changed: each("changed"),
    rolloutChanged: each("rolloutChanged"),
    healthProbed: each("healthProbed"),
  };
}
