import { createActor, fromPromise, type Actor, type SnapshotFrom } from "xstate";
import * as actors from "../../controllers/service/rollout-actors.ts";
import { rolloutMachine, rolloutOutcome, type RolloutContext, type RolloutTrigger } from "../../controllers/service/rollout-machine.ts";
import type { DesiredService } from "../desired/model.ts";
import { durationMs } from "../desired/units.ts";
import { desiredAtRevision, revisionSpecOf, RevisionRestoreError, type RevisionSpec } from "../desired/revision.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/index.ts";
import type { PinRow } from "../store/rollout-repositories.ts";
import type { ReconcileDeps } from "./deps.ts";
import type { Change } from "./observer.ts";

const MACHINE = "rollout";

type RevisionInput = { key: string; revision: string };

/** A rollout as the service reconcile and `berth rollout status` see it. */
export type RolloutView = Pick<RolloutContext, "key" | "revision" | "previous" | "phase" | "steps" | "waiting" | "failure" | "trigger" | "deploymentId">;

/** What the rollouts hear about and report to. */
export interface RolloutsOptions {
  store: Pick<Store, "deployments" | "snapshots" | "revisions" | "pins">;
  log: Logger;
  /** Docker changes a rollout step made, for the service's events. */
  onChanges?: (key: string, changes: Change[]) => void;
  /** A rollout moved to another state; the recorder turns this into events and metrics. */
  onChange?: (rollout: RolloutContext, state: string, hasHealthCheck: boolean) => void;
  /** Ask for a service's reconcile (a rollout ended, or an operator acted). */
  enqueue: (key: string) => void;
  pollMs?: number;
}

/** Thrown for an operator request that cannot be carried out as asked. */
export class RolloutRequestError extends Error {
  constructor(message: string, readonly status: 404 | 409 = 409) {
    super(message);
    this.name = "RolloutRequestError";
  }
}

type RolloutActor = Actor<typeof rolloutMachine>;

/**
 * Runs the rollout machines: one per service at most, each persisted after
 * every transition so a restarted daemon resumes it, and keeps the pins that
 * hold a service on a revision other than its manifest's.
 */
export class Rollouts {
  private readonly running = new Map<string, RolloutActor>();
  private readonly pins = new Map<string, PinRow>();
  /** The revision each service last ran successfully (rolled out or restored). */
  private readonly deployedRevision = new Map<string, string>();
  private readonly specs = new Map<string, RevisionSpec>();
  private readonly nextTrigger = new Map<string, RolloutTrigger>();
  private writes: Promise<void> = Promise.resolve();
  /** Actor work under way: a stop waits for it, so no Docker change is left half-made. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private deps?: ReconcileDeps;

  constructor(private readonly options: RolloutsOptions) {}

  /** Loads pins and history, then resumes every rollout a previous run left unfinished. */
  async load(deps: ReconcileDeps): Promise<void> {
    this.deps = deps;
    const { store } = this.options;
    for (const pin of await store.pins.list()) this.pins.set(pin.service, pin);
    const rows = await store.deployments.list({ limit: 10_000 });
    for (const row of rows) {
      if (this.deployedRevision.has(row.service)) continue;
      if (row.status === "success") this.deployedRevision.set(row.service, row.revision);
      else if (row.status === "rolled_back" && row.previousRevision) this.deployedRevision.set(row.service, row.previousRevision);
    }
    for (const { id, snapshot } of await store.snapshots.list(MACHINE)) {
      const context = (snapshot as { context: RolloutContext }).context;
      this.options.log.info("rollout resumed", { service: context.key, revision: context.revision.slice(0, 12), phase: context.phase });
      const actor = this.spawn(id, { snapshot: snapshot as SnapshotFrom<typeof rolloutMachine> });
      actor.send({ type: "RESUME" });
    }
    // A row opened just before a crash, whose machine was never saved, would stay in progress forever.
    const newest = new Map<string, (typeof rows)[number]>();
    for (const row of rows) if (!newest.has(row.service)) newest.set(row.service, row);
    for (const row of newest.values()) {
      const resumed = this.running.get(row.service)?.getSnapshot().context.deploymentId;
      if ((row.status === "pending" || row.status === "in_progress") && resumed !== row.id) {
        await store.deployments.finish(row.id, { status: "failed", error: "interrupted by a daemon stop before its rollout state was saved" });
      }
    }
  }

  /** Stops the machines without finishing them; their snapshots stay for the next start. */
  async stop(): Promise<void> {
    for (const actor of this.running.values()) actor.stop();
    this.running.clear();
    await Promise.allSettled([...this.inFlight]);
    await this.writes;
  }

  /** The rollout in flight for a service, if any. */
  active(key: string): RolloutView | undefined {
    return this.running.get(key)?.getSnapshot().context;
  }

  /** The newest deployments row of a service. */
  latest(key: string) {
    return this.options.store.deployments.latest(key);
  }

  /** The pin holding a service on another revision, if any. */
  pin(key: string): PinRow | undefined {
    return this.pins.get(key);
  }

  /** The revision a service last ran successfully. */
  deployed(key: string): string | undefined {
    return this.deployedRevision.get(key);
  }

  /** Starts rolling a service out to `desired`'s revision. */
  async begin(desired: DesiredService, manifestRevision: string, previous: string | undefined): Promise<void> {
    if (this.running.has(desired.key)) return;
    await this.options.store.revisions.save(desired.key, desired.specHash, revisionSpecOf(desired));
    const trigger = this.nextTrigger.get(desired.key) ?? "manifest";
    this.nextTrigger.delete(desired.key);
    const input = { key: desired.key, revision: desired.specHash, manifestRevision, previous, autoRollback: desired.autoRollback, healthTimeoutMs: durationMs(desired.healthTimeout), trigger };
    this.options.log.info("rollout started", { service: desired.key, revision: desired.specHash.slice(0, 12), previous: previous?.slice(0, 12), strategy: desired.strategy, trigger });
    this.spawn(`${MACHINE}/${desired.key}`, { input });
  }

  /** A newer revision replaces the one being rolled out. */
  supersede(key: string, revision: string): void {
    this.running.get(key)?.send({ type: "SUPERSEDE", revision });
  }

  /** Drops a pin that no longer applies (the manifest moved on). */
  unpin(key: string): void {
    if (!this.pins.delete(key)) return;
    this.persist(() => this.options.store.pins.clear(key));
  }

  /** `berth rollout retry`: try the manifest's revision again. */
  async retry(key: string): Promise<void> {
    const service = this.model().services.get(key);
    if (!service) throw new RolloutRequestError(`${key} is not declared in the manifests`, 404);
    if (this.running.has(key)) throw new RolloutRequestError(`${key} has a rollout in progress; wait for it to finish`);
    this.nextTrigger.set(key, "retry");
    this.pins.delete(key);
    await this.options.store.pins.clear(key);
    this.options.enqueue(key);
  }

  /**
   * `berth rollback`: roll a service out to a revision that succeeded before
   * (the one before the running one when none is named). It stays pinned there
   * until the manifest's revision of the service changes, or a retry.
   */
  async rollback(key: string, to?: string): Promise<{ revision: string }> {
    const service = this.model().services.get(key);
    if (!service || service.error) throw new RolloutRequestError(`${key} is not declared in the manifests${service?.error ? ` as a deployable spec: ${service.error}` : ""}`, 404);
    if (this.running.has(key)) throw new RolloutRequestError(`${key} has a rollout in progress; wait for it to finish`);
    const current = this.deployedRevision.get(key);
    const successes = await this.options.store.deployments.successful(key);
    const target = to
      ? successes.find((d) => d.revision.startsWith(to) || d.manifestRevision?.startsWith(to))
      : successes.find((d) => d.revision !== current);
    if (!target) {
      const known = [...new Set(successes.map((d) => d.revision.slice(0, 12)))].join(", ") || "none";
      throw new RolloutRequestError(`${key} has no successful revision ${to ? `matching ${to}` : "before the running one"}; successful revisions: ${known}`, 404);
    }
    if (target.revision === current) throw new RolloutRequestError(`${key} already runs revision ${current.slice(0, 12)}`);
    await this.desiredAt(key, target.revision); // fails now, not mid-rollout, when it cannot be restored
    const pin = { service: key, manifestRevision: service.specHash, runRevision: target.revision, reason: `rollback to ${target.revision.slice(0, 12)}`, since: Date.now() };
    this.pins.set(key, pin);
    await this.options.store.pins.set(pin);
    this.nextTrigger.set(key, "rollback");
    this.options.enqueue(key);
    return { revision: target.revision };
  }

  /** The service as it runs at a revision: the manifest's own, or a stored one with today's secrets. */
  async desiredAt(key: string, revision: string): Promise<DesiredService> {
    const current = this.model().services.get(key);
    if (!current) throw new actors.RolloutFailedError(`${key} is no longer declared in the manifests`);
    if (revision === current.specHash) return current;
    let spec = this.specs.get(`${key}@${revision}`);
    if (!spec) {
      spec = (await this.options.store.revisions.get(key, revision)) as RevisionSpec | undefined;
      if (!spec) throw new RevisionRestoreError(`revision ${revision.slice(0, 12)} of ${key} was never rolled out by Berth, so its spec is unknown; expected a revision from berth history`);
      this.specs.set(`${key}@${revision}`, spec);
    }
    return desiredAtRevision(current, spec);
  }

  private model() {
    if (!this.deps) throw new Error("rollouts used before load()");
    return this.deps.model();
  }

  private spawn(id: string, options: { input: RolloutContext | Omit<RolloutContext, "phase" | "steps" | "waiting"> } | { snapshot: SnapshotFrom<typeof rolloutMachine> }): RolloutActor {
    const deps = { ...this.deps!, desiredAt: (key: string, revision: string) => this.desiredAt(key, revision), pollMs: this.options.pollMs, onChanges: this.options.onChanges };
    const tracked = <I, O>(work: (input: I, signal: AbortSignal) => Promise<O>) =>
      fromPromise<O, I>(({ input, signal }) => {
        const promise = work(input, signal);
        this.inFlight.add(promise);
        void promise.catch(() => {}).finally(() => this.inFlight.delete(promise));
        return promise;
      });
    const machine = rolloutMachine.provide({
      actors: {
        openDeployment: tracked((input: RolloutContext) => this.openDeployment(input)),
        prepareImage: tracked((input: RevisionInput, signal) => actors.prepareImage(input, deps, signal)),
        deployStep: tracked((input: RevisionInput & { steps: number }, signal) => actors.deployStep(input, deps, signal)),
        awaitHealthy: tracked((input: RevisionInput, signal) => actors.awaitHealthy(input, deps, signal)),
        cleanUp: tracked((input: RevisionInput, signal) => actors.cleanUp(input, deps, signal)),
        restore: tracked((input: RevisionInput, signal) => actors.restore(input, deps, signal)),
      },
    });
    const actor = "snapshot" in options ? createActor(machine, { snapshot: options.snapshot } as never) : createActor(machine, { input: options.input as never });
    const key = actor.getSnapshot().context.key;
    this.running.set(key, actor);
    let lastState = "";
    actor.subscribe({
      next: (snapshot) => {
        const state = String(snapshot.value);
        if (state === lastState) return;
        lastState = state;
        void this.transitioned(id, actor, snapshot);
      },
      error: (error) => this.options.log.error("rollout machine crashed", { service: key, error }),
    });
    actor.start();
    return actor;
  }

  /** Persists the snapshot and the deployments row; at the end, pins and history, then the service's reconcile. */
  private async transitioned(id: string, actor: RolloutActor, snapshot: SnapshotFrom<typeof rolloutMachine>): Promise<void> {
    const context = snapshot.context;
    const state = String(snapshot.value);
    const outcome = rolloutOutcome(state);
    const persisted = actor.getPersistedSnapshot();
    const checked = !!this.model().services.get(context.key)?.healthCheck;
    this.options.onChange?.(context, state, checked);
    this.persist(async () => {
      const { store } = this.options;
      if (context.deploymentId !== undefined) {
        const error = state === "rollbackFailed" ? `${context.failure}; rollback failed: ${context.rollbackError}` : context.failure;
        await store.deployments.finish(context.deploymentId, outcome ? { status: outcome, error, healthCheckPassed: checked ? outcome === "success" : undefined } : { status: "in_progress" });
      }
      if (!outcome) return store.snapshots.save(id, MACHINE, persisted);
      await this.settlePin(context, state);
      await store.snapshots.remove(id);
    });
    if (!outcome) return;
    if (this.running.get(context.key) === actor) this.running.delete(context.key);
    if (outcome === "success") this.deployedRevision.set(context.key, context.revision);
    if (outcome === "rolled_back" && context.previous) this.deployedRevision.set(context.key, context.previous);
    this.options.log[outcome === "success" ? "info" : "warn"]("rollout finished", { service: context.key, revision: context.revision.slice(0, 12), outcome, state, failure: context.failure });
    await this.writes;
    this.options.enqueue(context.key);
  }

  /** After a failure the service stays where the rollout left it until the manifest changes, so it is not retried in a loop. */
  private async settlePin(context: RolloutContext, state: string): Promise<void> {
    const { manifestRevision } = context;
    let pin: PinRow | undefined;
    if (state === "rolledBack" && context.previous !== manifestRevision) pin = { service: context.key, manifestRevision, runRevision: context.previous!, reason: `rolled back: ${context.failure}`, since: Date.now() };
    else if (state === "stalled" || state === "rollbackFailed") pin = { service: context.key, manifestRevision, runRevision: null, reason: `rollout failed: ${context.failure}`, since: Date.now() };
    else if (state === "rolledBack" || (state === "complete" && context.revision === manifestRevision)) {
      this.pins.delete(context.key);
      return this.options.store.pins.clear(context.key);
    }
    if (!pin) return;
    this.pins.set(context.key, pin);
    await this.options.store.pins.set(pin);
  }

  /** The deployments row of a rollout; a resumed rollout finds the row it opened before. */
  private async openDeployment(context: RolloutContext): Promise<number> {
    const { deployments } = this.options.store;
    const latest = await deployments.latest(context.key);
    if (latest && latest.revision === context.revision && (latest.status === "pending" || latest.status === "in_progress")) return latest.id;
    const desired = await this.desiredAt(context.key, context.revision);
    return deployments.start({
      service: context.key,
      revision: context.revision,
      image: desired.image.ref,
      manifestRevision: this.model().revision,
      previousRevision: context.previous,
      trigger: context.trigger,
      status: "pending",
    });
  }

  /** Store writes in order; a failed one is logged, never thrown into a machine. */
  private persist(write: () => Promise<unknown>): void {
    this.writes = this.writes.then(async () => {
      try {
        await write();
      } catch (error) {
        this.options.log.error("rollout state not saved", { error });
      }
    });
  }
}

