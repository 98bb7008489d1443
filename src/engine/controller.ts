import type { Driver } from "../docker/driver.ts";
import type { PullCredentials } from "../docker/registry-auth.ts";
import type { ContainerHealth, ObservedContainer } from "../docker/observe.ts";
import type { DesiredModel } from "../desired/model.ts";
import type { CheckOf } from "../health/prober.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/index.ts";
import type { Change, RolloutReport } from "./observer.ts";
import type { PlanChange } from "./plan-change.ts";

/** One line of `status`: what a controller last made of a resource. */
export interface ResourceStatus {
  kind: string;
  name: string;
  phase: string;
  message: string;
  ready: boolean;
  converged: boolean;
  error?: string;
  /** Waiting will not fix the error: `apply --wait` ends at once. */
  terminal?: boolean;
}

/** One replica as the last pass saw it, for `berth rollout status`. */
export interface ReplicaStatus {
  slot: number;
  container: string;
  /** Container id, for its logs. */
  id: string;
  revision: string;
  state: string;
  health: string;
  exitCode?: number;
  created: number;
}

/** Why a pass could not converge. */
export interface PassError {
  message: string;
  /** Waiting will not fix it. */
  terminal: boolean;
  /** Look again with backoff anyway (the world may change on its own). */
  retry: boolean;
  /** A CamelCase cause for the Ready condition and the Warning event (default: the phase, and InvalidSpec or ReconcileFailed). */
  reason?: string;
}

/** What one reconcile pass of a key came to. */
export interface PassResult {
  phase: string;
  message: string;
  ready: boolean;
  converged: boolean;
  error?: PassError;
  /** Why it runs another revision than its manifest asks for (not an error: nothing to retry). */
  held?: string;
  /** What the pass changed in Docker, one entry per executed action. */
  changes: Change[];
  requeueAfterMs?: number;
  /** What the key converges toward: changes made while it is unchanged are drift. */
  specHash: string;
  running?: number;
  desired?: number;
  /** The container spec a service's pass converged toward. */
  containerSpec?: string;
  /** Keys to look at again now, whatever this pass came to. */
  enqueue?: string[];
  /** Keys whose decision depends on this one's phase or health: queued when it moves. */
  dependents?: string[];
  /** What the pass means, as `plan` shows it. */
  plan: PlanChange[];
  replicas?: ReplicaStatus[];
  /** The resource is declared nowhere: its pass cleaned up after it, and it has no status. */
  gone?: boolean;
  /** Kind-specific memory a phase needs (e.g. an environment was healthy once). */
  memo?: Record<string, unknown>;
}

/** What the last pass of a key left, for other controllers and status. */
export interface KeyStatus extends ResourceStatus {
  result?: PassResult;
}

/** Where an environment no manifest declares any more was last seen. */
export interface OrphanEnvironment {
  project: string;
  target: string;
}

/** Berth's own health probes: registered by reconcile actions, read by observation. */
export interface Probes {
  track(serviceKey: string, check: CheckOf, network: string, containers: readonly ObservedContainer[], healthLog?: Driver["healthLogReader"], dial?: Driver["dial"]): void;
  status(containerId: string): ContainerHealth | undefined;
  lastOutput(containerId: string): string | undefined;
}

/** Everything a pass is given; nothing is imported as a singleton. */
export interface PassContext {
  model(): DesiredModel;
  /** The driver of a target; throws TargetUnavailableError when it is not connected. */
  driver(target: string): Driver;
  /** What the last pass of another key left. */
  status(key: string): KeyStatus | undefined;
  store: Pick<Store, "deployments" | "snapshots" | "revisions" | "pins"> & Partial<Pick<Store, "backups">>;
  probes: Probes;
  log: Logger;
  now(): number;
  /** Masks secret values in what is stored. */
  redact(text: string): string;
  /** Copies of an environment where no manifest declares it (another target or project, or deleted). */
  orphans(environment: string): OrphanEnvironment[];
  /** Called once an orphan copy has nothing left to prune. */
  forgetOrphan(environment: string, owner: OrphanEnvironment): void;
  /** A rollout record moved, for events and metrics. */
  rolloutChanged?(report: RolloutReport): void;
  /** The registry credentials a pull of `ref` on `target` sends: the target's registries, else the daemon user's config.json. */
  pullCredentials?(target: string, ref: string): PullCredentials;
  /** How soon a rollout's health wait looks again. */
  pollMs?: number;
  /**
   * `plan`: the pass decides as usual but records instead of acting (no Docker
   * mutation, no store write). `assumed` lists what earlier dry passes would have created.
   */
  dryRun?: { assumed: { networks: string[]; volumes: string[] } };
}

/** One kind's reconciler: observe, decide, execute, report. */
export interface Controller {
  /** The key prefix it owns, e.g. "Service". */
  kind: string;
  reconcile(key: string, ctx: PassContext): Promise<PassResult>;
  /** The target a key's pass needs connected (undefined: none). */
  targetOf(key: string, ctx: PassContext): string | undefined;
  /** Recovers what a crash left (once, before the first pass); returns keys to queue besides the declared ones. */
  start?(ctx: PassContext): Promise<string[] | void>;
}
