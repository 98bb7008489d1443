import { assign, createActor, fromPromise, type Actor, type SnapshotFrom } from "xstate";
import * as actors from "../../controllers/service/rollout-actors.ts";
import { rolloutMachine, rolloutOutcome, type RolloutContext, type RolloutTrigger } from "../../controllers/service/rollout-machine.ts";
import type { DesiredService } from "../desired/model.ts";
import { durationMs } from "../desired/units.ts";
import { KEEP_BUILT_IMAGES } from "../docker/image-gc.ts";
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
  /** Masks secret values in what is stored or answered (failures quote check output and Docker errors). */
  redact?: (text: string) => string;
  /** The latest failing check output of a service's containers, to explain a health timeout. */
  lastCheckFailure?: (key: string) => string | undefined;
}

/** Thrown for an operator request that cannot be carried out as asked. */
export class RolloutRequestError extends Error {
  constructor(message: string, readonly status: 400 | 404 | 409 = 409) {
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
  /** Actor work under way, per service: a stop (and the next rollout) waits for it, so no Docker change is left half-made. */
  private readonly inFlight = new Map<string, Set<Promise<unknown>>>();
  /** Services with any rollout on record. */
  private readonly known = new Set<string>();
  private deps?: ReconcileDeps;

  constructor(private readonly options: RolloutsOptions) {}

  /** Loads pins and history, then resumes every rollout a previous run left unfinished. */
  async load(deps: ReconcileDeps): Promise<void> {
    this.deps = deps;
    const { store, log } = this.options;
    for (const pin of await store.pins.list()) this.pins.set(pin.service, pin);
    const rows = await store.deployments.list({ limit: 10_000 });
    for (const row of rows) {
      this.known.add(row.service);
      if (this.deployedRevision.has(row.service)) continue;
      if (row.status === "success") this.deployedRevision.set(row.service, row.revision);
      else if (row.status === "rolled_back" && row.previousRevision) this.deployedRevision.set(row.service, row.previousRevision);
    }
    const saved = await store.snapshots.list(MACHINE);
    const resuming = new Set(saved.map((s) => (s.snapshot as { context?: RolloutContext }).context?.key));
    // A row opened just before a crash, whose machine was never saved, would stay in progress forever.
    const newest = new Map<string, (typeof rows)[number]>();
    for (const row of rows) if (!newest.has(row.service)) newest.set(row.service, row);
    for (const row of newest.values()) {
      if ((row.status === "pending" || row.status === "in_progress") && !resuming.has(row.service)) {
        await store.deployments.finish(row.id, { status: "failed", error: "interrupted by a daemon stop before its rollout state was saved" });
      }
    }
    for (const { id, snapshot } of saved) {
      const context = (snapshot as { context: RolloutContext }).context;
      try {
        const actor = this.spawn(id, { snapshot: snapshot as SnapshotFrom<typeof rolloutMachine> });
        log.info("rollout resumed", { service: context.key, revision: context.revision.slice(0, 12), phase: context.phase });
        actor.send({ type: "RESUME" });
      } catch (error) {
        // A snapshot this version cannot restore must not keep the daemon from starting.
        log.warn("rollout could not be resumed", { id, error });
        this.running.delete(context?.key);
        await store.snapshots.remove(id);
        if (context?.deploymentId !== undefined) await store.deployments.finish(context.deploymentId, { status: "failed", error: `could not be resumed after a restart: ${error instanceof Error ? error.message : error}` });
      }
    }
  }

  /** Stops the machines without finishing them; their snapshots stay for the next start. */
  async stop(): Promise<void> {
    for (const actor of this.running.values()) actor.stop();
    this.running.clear();
    await Promise.allSettled([...this.inFlight.values()].flatMap((set) => [...set]));
    await this.writes;
  }

  /** The rollout in flight for a service, if any. */
  active(key: string): RolloutView | undefined {
    const context = this.running.get(key)?.getSnapshot().context;
    return context && { ...context, failure: context.failure && this.redact(context.failure) };
  }

  /** Whether the service has any rollout on record. */
  hasHistory(key: string): boolean {
    return this.known.has(key);
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
    if (this.running.has(desired.key)) return;
    this.known.add(desired.key);
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

  /** Drops a pin that no longer applies (the manifest moved on, or the service is gone). */
  unpin(key: string): void {
    if (!this.pins.delete(key)) return;
    this.persist(() => this.options.store.pins.clear(key));
  }

  /** `berth rollout retry`: try the manifest's revision again. */
  async retry(key: string): Promise<void> {
    const service = this.model().services.get(key);
    if (!service) throw new RolloutRequestError(`${key} is not declared in the manifests`, 404);
    if (this.running.has(key)) throw new RolloutRequestError(`${key} has a rollout in progress; wait for it to finish`);
    if (!this.pins.has(key)) throw new RolloutRequestError(`${key} has no failed or rolled-back rollout to retry; it runs what its manifest asks for`);
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
    if (to !== undefined && to.length < 4) throw new RolloutRequestError(`revision "${to}" is too short to name one; expected at least 4 characters of a spec hash or commit from berth history`, 400);
    // After a failure without rollback the containers may run a mix: no revision counts as running.
    const current = this.pins.get(key)?.runRevision === null ? undefined : this.deployedRevision.get(key);
    const successes = await this.options.store.deployments.successful(key);
    const target = to
      ? successes.find((d) => d.revision.startsWith(to) || d.manifestRevision?.startsWith(to))
      : successes.find((d) => d.revision !== current);
    if (!target) {
      const known = [...new Set(successes.map((d) => d.revision.slice(0, 12)))].join(", ") || "none";
      throw new RolloutRequestError(`${key} has no successful revision ${to ? `matching ${to}` : "before the running one"}; successful revisions: ${known}`, 404);
    }
    if (target.revision === current) throw new RolloutRequestError(`${key} already runs revision ${target.revision.slice(0, 12)}`);
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
    const deps = { ...this.deps!, desiredAt: (key: string, revision: string) => this.desiredAt(key, revision), pollMs: this.options.pollMs, onChanges: this.options.onChanges, rollbackImages: () => this.rollbackImages() };
    const tracked = <I extends { key: string }, O>(work: (input: I, signal: AbortSignal) => Promise<O>) =>
      fromPromise<O, I>(({ input, signal }) => {
        const promise = work(input, signal);
        const set = this.inFlight.get(input.key) ?? new Set();
        this.inFlight.set(input.key, set.add(promise));
        void promise.catch(() => {}).finally(() => set.delete(promise));
        return promise;
      });
    const machine = rolloutMachine.provide({
      actions: {
        // A timeout names what the check last said, as a failed check does.
        recordTimeout: assign({
          failure: ({ context }) => {
            const said = this.options.lastCheckFailure?.(context.key);
            return `slot(s) ${context.waiting.join(", ")} not ready within ${Math.round(context.healthTimeoutMs / 1000)} s${said ? `; ${said}` : ""}`;
          },
        }),
      },
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
      error: (error) => {
        this.options.log.error("rollout machine crashed", { service: key, error });
        if (this.running.get(key) === actor) this.running.delete(key);
        const { deploymentId } = actor.getSnapshot().context;
        this.persist(async () => {
          await this.options.store.snapshots.remove(id);
          if (deploymentId !== undefined) await this.options.store.deployments.finish(deploymentId, { status: "failed", error: this.redact(`rollout crashed: ${error instanceof Error ? error.message : error}`) });
        });
        this.options.enqueue(key);
      },
    });
    actor.start();
    return actor;
  }

  /** Persists the snapshot and the deployments row; at the end, pins and history, then the service's reconcile. */
  private async transitioned(id: string, actor: RolloutActor, snapshot: SnapshotFrom<typeof rolloutMachine>): Promise<void> {
    const context = snapshot.context;
    const state = String(snapshot.value);
    const outcome = rolloutOutcome(state);
    const persisted = JSON.parse(this.redact(JSON.stringify(actor.getPersistedSnapshot()))) as unknown;
    const checked = !!this.model().services.get(context.key)?.healthCheck;
    this.options.onChange?.(context, state, checked);
    // In memory at once: a reconcile queued by this rollout's own container events must see the pin, not retry the revision.
    const pin = outcome ? this.pinAfter(context, state) : undefined;
    if (outcome) {
      if (this.running.get(context.key) === actor) this.running.delete(context.key);
      if (outcome === "success") this.deployedRevision.set(context.key, context.revision);
      if (outcome === "rolled_back" && context.previous) this.deployedRevision.set(context.key, context.previous);
      if (pin === null) this.pins.delete(context.key);
      else if (pin) this.pins.set(context.key, pin);
    }
    this.persist(async () => {
      const { store } = this.options;
      if (context.deploymentId !== undefined) {
        const failure = state === "rollbackFailed" ? `${context.failure}; rollback failed: ${context.rollbackError}` : context.failure;
        const error = failure === undefined ? undefined : this.redact(failure);
        await store.deployments.finish(context.deploymentId, outcome ? { status: outcome, error, healthCheckPassed: checked ? outcome === "success" : undefined } : { status: "in_progress" });
      }
      if (!outcome) return store.snapshots.save(id, MACHINE, persisted);
      if (pin === null) await store.pins.clear(context.key);
      else if (pin) await store.pins.set(pin);
      await store.snapshots.remove(id);
    });
    if (!outcome) return;
    this.options.log[outcome === "success" ? "info" : "warn"]("rollout finished", { service: context.key, revision: context.revision.slice(0, 12), outcome, state, failure: context.failure });
    // A superseded rollout's step may still be applying actions: the next rollout plans from what it leaves.
    await Promise.allSettled([...(this.inFlight.get(context.key) ?? [])]);
    await this.writes;
    this.options.enqueue(context.key);
  }

  /**
   * The pin a finished rollout leaves (null: none), so a failed revision is
   * not retried in a loop: it holds until the manifest asks for another
   * revision, or a retry.
   */
  private pinAfter(context: RolloutContext, state: string): PinRow | null | undefined {
    const { manifestRevision } = context;
    const since = Date.now();
    if (state === "rolledBack" && context.previous !== manifestRevision) return { service: context.key, manifestRevision, runRevision: context.previous!, reason: this.redact(`rolled back: ${context.failure}`), since };
    if (state === "stalled" || state === "rollbackFailed") return { service: context.key, manifestRevision, runRevision: null, reason: this.redact(`rollout failed: ${context.failure}`), since };
    if (state === "rolledBack" || (state === "complete" && context.revision === manifestRevision)) return null;
    return undefined;
  }

  /** Images of the revisions each service last ran successfully (with the one rolling out, the newest five), never pruned. */
  private async rollbackImages(): Promise<Set<string>> {
    const rows = await this.options.store.deployments.list({ limit: 1_000 });
    const perService = new Map<string, number>();
    const keep = new Set<string>();
    for (const row of rows) {
      if (row.status !== "success") continue;
      const seen = perService.get(row.service) ?? 0;
      if (seen >= KEEP_BUILT_IMAGES - 1) continue;
      perService.set(row.service, seen + 1);
      keep.add(row.image);
    }
    return keep;
  }

  private redact(text: string): string {
    return this.options.redact ? this.options.redact(text) : text;
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

