import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { WorkQueue, type QueueClock } from "../workqueue/workqueue.ts";
import type { Controller, KeyStatus, PassContext, PassResult } from "./controller.ts";
import { messageOf, TargetUnavailableError, TerminalReconcileError } from "./errors.ts";
import type { ManagerObserver } from "./observer.ts";

/** controller-runtime's default per-key limiter: 5 ms doubling to 1000 s. */
export const BACKOFF = { baseMs: 5, maxMs: 1_000_000 };

export interface RunnerOptions {
  controllers: readonly Controller[];
  /** The context a pass runs with (fresh per pass: the model may have changed). */
  context(): PassContext;
  /** Whether a target is connected; keys of a target that is not wait for its connection. */
  isActive(target: string): boolean;
  log: Logger;
  observer?: ManagerObserver;
  metrics?: Metrics;
  queueClock?: QueueClock;
  workers: number;
}

/**
 * The generic loop, as controller-runtime's: keys in a rate-limited queue,
 * workers taking one key at a time to its kind's reconcile, the result kept
 * as the key's status and turned into requeues, backoff and reports.
 */
export class Runner {
  readonly queue: WorkQueue;
  private readonly statuses = new Map<string, KeyStatus>();
  /** The spec hash each key last converged to: changes made while it is unchanged are drift. */
  private readonly convergedHash = new Map<string, string>();
  /** The last terminal failure of each key, until a pass succeeds or its spec changes: what `apply --wait` ends on. */
  private readonly terminal = new Map<string, { message: string; specHash: string }>();
  /** The last error reported per key, until a pass succeeds: a cause is reported once, not on every retry. */
  private readonly lastError = new Map<string, string>();
  private loops: Promise<void>[] = [];

  constructor(private readonly options: RunnerOptions) {
    this.queue = new WorkQueue(options.queueClock, BACKOFF, options.metrics?.queueObserver());
    for (const c of options.controllers) options.metrics?.maxConcurrent.set({ controller: c.kind.toLowerCase() }, options.workers);
  }

  get kinds(): string[] {
    return this.options.controllers.map((c) => c.kind.toLowerCase());
  }

  start(): void {
    this.loops = Array.from({ length: this.options.workers }, () => this.work());
  }

  async stop(): Promise<void> {
    this.queue.shutdown();
    await Promise.all(this.loops);
  }

  status(key: string): KeyStatus | undefined {
    return this.statuses.get(key);
  }

  /** Keys whose last failure cannot be fixed by waiting, with the reason. */
  failures(): Map<string, string> {
    return new Map([...this.terminal].map(([key, t]) => [key, t.message]));
  }

  /** Forgets what a key's earlier passes left (its resource left the manifests). */
  forget(key: string): void {
    this.statuses.delete(key);
    this.convergedHash.delete(key);
    this.terminal.delete(key);
    this.lastError.delete(key);
  }

  controllerOf(key: string): Controller | undefined {
    const kind = key.slice(0, key.indexOf("/"));
    return this.options.controllers.find((c) => c.kind === kind);
  }

  /** Runs one pass of a key now, outside the queue: what `plan` does with a dry-run context. */
  async once(key: string, ctx: PassContext): Promise<PassResult> {
    const controller = this.controllerOf(key);
    if (!controller) throw new Error(`no controller for ${key}`);
    return controller.reconcile(key, ctx).catch((error) => failed(error));
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.process(key);
      } catch (error) {
        this.options.log.error("reconcile crashed", { key, error });
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async process(key: string): Promise<void> {
    const controller = this.controllerOf(key);
    if (!controller) return;
    const ctx = this.options.context();
    const target = controller.targetOf(key, ctx);
    if (target && !this.options.isActive(target)) return; // the target's next connection queues it again
    const endWork = this.options.metrics?.startWork(key);
    let outcome: "success" | "error" | "requeue_after" = "error";
    try {
      const result = await controller.reconcile(key, ctx).catch((error) => failed(error));
      outcome = this.settled(key, result);
    } finally {
      endWork?.(outcome);
    }
  }

  /** Keeps the result as the key's status, reports it, and schedules what comes next. */
  private settled(key: string, thrownOrDecided: PassResult): "success" | "error" | "requeue_after" {
    const before = this.statuses.get(key);
    // A pass that threw knows nothing of its spec: it keeps the one its key had.
    const result = thrownOrDecided.specHash === FAILED ? { ...thrownOrDecided, specHash: before?.result?.specHash ?? FAILED } : thrownOrDecided;
    const kind = key.slice(0, key.indexOf("/"));
    const name = key.slice(key.indexOf("/") + 1);
    const error = result.error?.message ?? result.held;
    const status: KeyStatus = { kind, name, phase: result.phase, message: result.message, ready: result.ready, converged: result.converged, error, terminal: !!result.error?.terminal || !!result.held, result };
    this.statuses.set(key, status);

    const drift = !result.error && result.changes.length > 0 && this.convergedHash.get(key) === result.specHash;
    if (!result.error && result.converged) this.convergedHash.set(key, result.specHash);
    if (result.error?.terminal) this.terminal.set(key, { message: result.error.message, specHash: result.specHash });
    else if (this.terminal.get(key)?.specHash !== result.specHash || (!result.error && (result.converged || result.ready))) this.terminal.delete(key);
    const newError = !!result.error && result.error.message !== this.lastError.get(key);
    // Success is a pass that reached what it converges toward; a step on the way (a rollout's) does not reset backoff.
    const succeeded = !result.error && (result.converged || result.ready);
    if (result.error) this.lastError.set(key, result.error.message);
    else if (succeeded) this.lastError.delete(key);
    // A resource declared nowhere keeps no status and reports nothing: its rows and series went with it.
    if (result.gone) this.forget(key);
    else this.options.observer?.reconciled?.({
      key,
      kind: kind as "Service" | "Environment",
      name,
      phase: result.phase,
      previousPhase: before?.phase ?? "",
      message: result.message,
      ready: result.ready,
      converged: result.converged && !result.error,
      error: result.error?.message,
      reason: result.error?.reason,
      terminal: !!result.error?.terminal,
      newError,
      changes: result.changes,
      drift,
      running: result.running,
      desired: result.desired,
      specHash: result.containerSpec,
    });

    for (const other of result.enqueue ?? []) this.queue.add(other);
    if (before?.phase !== result.phase || before?.ready !== result.ready) for (const other of result.dependents ?? []) this.queue.add(other);
    if (result.error) {
      const retryInMs = result.error.retry ? this.queue.addRateLimited(key) : undefined;
      // Once per distinct cause; a retry with the same error only shows at debug level.
      this.options.log[newError ? "warn" : "debug"]("reconcile failed", { key, error: result.error.message, retryInMs: retryInMs ?? "after the manifest changes" });
      if (!result.error.retry && result.requeueAfterMs) this.queue.addAfter(key, result.requeueAfterMs);
      return "error";
    }
    if (succeeded) this.queue.forget(key);
    if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
    return result.requeueAfterMs !== undefined ? "requeue_after" : "success";
  }
}

const FAILED = "failed";

/** A pass that threw: Failed, retried with backoff unless only a manifest change can help. */
function failed(error: unknown): PassResult {
  const terminal = error instanceof TerminalReconcileError;
  // An unconnected target is not this key's failure: the target's connection queues it again.
  const retry = terminal ? error.retry : !(error instanceof TargetUnavailableError);
  const reason = terminal ? error.reason : undefined;
  return { phase: "Failed", message: messageOf(error), ready: false, converged: false, error: { message: messageOf(error), terminal, retry, ...(reason ? { reason } : {}) }, changes: [], specHash: FAILED, plan: [] };
}
