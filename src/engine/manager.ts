import { createActor, fromPromise, waitFor, type Actor, type AnyStateMachine } from "xstate";
import { reconcileEnvironment } from "../../controllers/environment/reconcile.ts";
import { environmentMachine, type EnvironmentFacts, type EnvironmentPhase } from "../../controllers/environment/machine.ts";
import { projectMachine } from "../../controllers/project/machine.ts";
import { reconcileService } from "../../controllers/service/reconcile.ts";
import { serviceMachine, type ServiceFacts, type ServicePhase } from "../../controllers/service/machine.ts";
import { targetMachine, type EngineInfo } from "../../controllers/deploymenttarget/machine.ts";
import type { DockerDriver, EngineEvent } from "../docker/driver.ts";
import { LABEL, ownerFilter } from "../docker/labels.ts";
import { observeContainers } from "../docker/observe.ts";
import { buildDesiredModel, secretValuesOf, type DesiredModel } from "../desired/model.ts";
import { environmentKey, serviceKey } from "../desired/names.ts";
import { hashOf } from "../desired/hash.ts";
import { HealthProber } from "../health/prober.ts";
import type { Logger, Redactor } from "../log/logger.ts";
import type { DesiredState } from "../manifests/load.ts";
import type { DeploymentTarget } from "../manifests/types.ts";
import { WorkQueue, type QueueClock } from "../workqueue/workqueue.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { OrphanEnvironment, ReconcileDeps } from "./deps.ts";
import type { ManagerObserver } from "./observer.ts";
import { TargetUnavailableError } from "./target-unavailable.ts";
import { Rollouts, type RolloutsOptions, type RolloutView } from "./rollouts.ts";

/** Controllers whose keys go through the workqueue. */
const CONTROLLERS = ["service", "environment"] as const;

/** Engine events that may mean a container drifted from its spec. */
const TRIGGERS = ["die", "destroy", "stop", "kill", "oom", "health_status"];

export interface ManagerOptions {
  log: Logger;
  redactor: Redactor;
  /** Builds the driver for a target (local socket or SSH). */
  connect: (target: DeploymentTarget) => DockerDriver;
  workers?: number;
  resyncMs?: number;
  /** Follow engine event streams (the daemon does; a one-shot apply need not). */
  watchEvents?: boolean;
  daemonEnv?: NodeJS.ProcessEnv;
  queueClock?: QueueClock;
  /** Called before each periodic resync, e.g. to re-read the manifests. */
  beforeResync?: () => Promise<void>;
  /** Hears what the manager sees and does: the store, events and metrics listen here. */
  observer?: ManagerObserver;
  metrics?: Metrics;
  /** Where rollouts, pins and revision specs are kept, so a restart resumes them. */
  store: RolloutsOptions["store"];
  /** How often a rollout's health wait looks again (default 500 ms). */
  rolloutPollMs?: number;
}

/** One line of `status`: what a controller last made of a resource. */
export interface ResourceStatus {
  kind: string;
  name: string;
  phase: string;
  message: string;
  ready: boolean;
  converged: boolean;
  error?: string;
  /** The error needs a manifest change; retrying will not help. */
  terminal?: boolean;
}

/** What `GET /api/v1/services/<env>/<name>/rollout` answers. */
export interface RolloutStatus {
  service: string;
  manifestRevision: string;
  runningRevision?: string;
  rollout?: RolloutView;
  pin?: { runRevision: string | null; reason: string; since: number };
  /** The newest rollout's deployments row. */
  latest?: { id: number; revision: string; status: string; trigger: string; error: string | null; startedAt: number; completedAt: number | null };
  replicas: { slot: number; container: string; revision: string; state: string; health: string }[];
  error?: string;
}

type ServiceActor = Actor<typeof serviceMachine>;
type EnvironmentActor = Actor<typeof environmentMachine>;
type TargetActor = Actor<typeof targetMachine>;

/** Runs the controllers: target connections, the workqueue and its workers, events and resync. */
export class Manager {
  readonly queue: WorkQueue;
  readonly rollouts: Rollouts;
  private model: DesiredModel = { targets: new Map(), projects: new Map(), environments: new Map(), services: new Map(), complete: true };
  private readonly drivers = new Map<string, { specHash: string; driver?: DockerDriver; error?: Error }>();
  private readonly targets = new Map<string, { specHash: string; actor: TargetActor }>();
  private readonly services = new Map<string, ServiceActor>();
  private readonly environments = new Map<string, EnvironmentActor>();
  private readonly projects = new Map<string, Actor<typeof projectMachine>>();
  /** Copies of environments on targets (or under projects) where no manifest declares them, by environment name. */
  private readonly orphans = new Map<string, OrphanEnvironment[]>();
  private readonly prober: HealthProber;
  /** The spec hash each key last converged to. */
  private readonly convergedHash = new Map<string, string>();
  private readonly deps: ReconcileDeps;
  private workerLoops: Promise<void>[] = [];
  private resyncTimer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly options: ManagerOptions) {
    this.queue = new WorkQueue(options.queueClock, undefined, options.metrics?.queueObserver());
    this.prober = new HealthProber((key, container, status, result, changed) => {
      options.observer?.healthProbed?.(key, container, status, result, changed);
      if (!changed) return;
      options.log.info("health changed", { service: key, container: container.slice(0, 12), status, output: result.output });
      this.enqueueWithDependents(key);
    });
    for (const controller of CONTROLLERS) options.metrics?.maxConcurrent.set({ controller }, this.workers);
    this.rollouts = new Rollouts({
      store: options.store,
      log: options.log,
      pollMs: options.rolloutPollMs,
      onChange: (rollout, state, checked) => options.observer?.rolloutChanged?.(rollout, state, checked),
      onChanges: (key, changes) => options.observer?.changed?.("Service", key.slice("Service/".length), changes),
      enqueue: (key) => this.queue.add(key),
      redact: (text) => options.redactor.redact(text),
      lastCheckFailure: (key) => this.prober.lastFailure(key),
    });
    this.deps = {
      rollouts: this.rollouts,
      model: () => this.model,
      driver: (target) => this.driverFor(target),
      prober: this.prober,
      healthOf: (container, service) => (service.healthCheck?.exec ? container.health : this.prober.status(container.id)),
      log: options.log,
      servicePhase: (key) => this.services.get(key)?.getSnapshot().context.phase,
      enqueue: (key) => this.queue.add(key),
      orphans: (environment) => this.orphans.get(environment) ?? [],
      forgetOrphan: (environment, owner) => {
        const left = (this.orphans.get(environment) ?? []).filter((o) => o.target !== owner.target || o.project !== owner.project);
        if (left.length) this.orphans.set(environment, left);
        else this.orphans.delete(environment);
      },
    };
  }

  /** Takes a new desired state: rebuilds the model, starts controllers for new resources, queues everything. */
  setDesired(state: DesiredState): void {
    const previous = this.model;
    this.model = buildDesiredModel(state, { daemonEnv: this.options.daemonEnv });
    this.options.redactor.setSecrets(secretValuesOf(this.model));
    this.options.observer?.desiredChanged?.(state, this.model);
    for (const key of this.convergedHash.keys()) if (!this.model.services.has(key) && !this.model.environments.has(key.slice("Environment/".length))) this.convergedHash.delete(key);
    // An environment that left the manifests, or moved, leaves a copy behind to prune now, not at the next resync.
    for (const old of previous.environments.values()) {
      const now = this.model.environments.get(old.environment);
      if (!now || now.target !== old.target || now.project !== old.project) this.addOrphan(old.environment, { project: old.project, target: old.target });
    }
    for (const [name, owners] of this.orphans) {
      const declared = this.model.environments.get(name);
      const left = owners.filter((o) => !declared || o.target !== declared.target || o.project !== declared.project);
      if (left.length) this.orphans.set(name, left);
      else this.orphans.delete(name);
    }
    this.syncTargets();
    for (const key of this.model.services.keys()) this.serviceActor(key);
    for (const env of this.model.environments.values()) this.environmentActor(env.key);
    for (const name of this.model.projects.keys()) this.projectActor(name);
    this.enqueueAll();
  }

  /** Resumes unfinished rollouts, then starts workers and the periodic resync. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.rollouts.load(this.deps);
    this.workerLoops = Array.from({ length: this.workers }, () => this.work());
    this.resyncTimer = setInterval(() => void this.resync(), this.resyncMs);
    this.resyncTimer.unref();
  }

  /** Stops taking work, lets in-flight reconciles finish, then closes connections. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.resyncTimer);
    this.queue.shutdown();
    await Promise.all(this.workerLoops);
    await this.rollouts.stop();
    this.prober.stop();
    for (const { actor } of this.targets.values()) actor.stop();
    for (const { driver } of this.drivers.values()) driver?.close();
    for (const actor of [...this.services.values(), ...this.environments.values(), ...this.projects.values()]) actor.stop();
  }

  /** Reconciles running at once. */
  get workers(): number {
    return this.options.workers ?? 4;
  }

  /** How often everything is looked at again without any trigger. */
  get resyncMs(): number {
    return this.options.resyncMs ?? 5 * 60_000;
  }

  /** Brings the gauges that describe the queue and work in flight up to date (before a scrape). */
  refreshMetrics(): void {
    this.options.metrics?.setDepths(this.queue.waiting, CONTROLLERS);
    this.options.metrics?.refreshInFlight(CONTROLLERS);
  }

  /** Re-reads (via beforeResync) and queues every key, so drift is found even when an event was missed. */
  async resync(): Promise<void> {
    try {
      await this.options.beforeResync?.();
    } catch (error) {
      this.options.log.warn("resync could not re-read the manifests", { error });
    }
    for (const name of this.targets.keys()) if (this.isActive(name)) await this.discoverOrphans(name);
    this.enqueueAll();
  }

  /** The desired model currently in force. */
  get desired(): DesiredModel {
    return this.model;
  }

  /** Connection phase and engine of each target. */
  targetStatus(): { name: string; phase: string; engine?: EngineInfo; error?: string }[] {
    return [...this.targets].map(([name, { actor }]) => {
      const { phase, engine, error } = actor.getSnapshot().context;
      return { name, phase, engine, error };
    });
  }

  /** What every controller last made of its resource. */
  status(): ResourceStatus[] {
    const out: ResourceStatus[] = [];
    for (const t of this.targetStatus()) out.push({ kind: "DeploymentTarget", name: t.name, phase: t.phase, message: t.error ?? (t.engine ? `Docker ${t.engine.version} (API ${t.engine.apiVersion})` : ""), ready: t.phase === "Active", converged: true, error: t.error });
    for (const [name, actor] of this.projects) {
      const { phase } = actor.getSnapshot().context;
      out.push({ kind: "Project", name, phase, message: "", ready: phase === "Ready" || phase === "Stopped", converged: true });
    }
    for (const [key, actor] of this.environments) {
      if (!this.model.environments.has(key.slice("Environment/".length))) continue;
      const { phase, facts, error } = actor.getSnapshot().context;
      out.push({ kind: "Environment", name: key.slice("Environment/".length), phase, message: error ?? facts?.message ?? "", ready: phase === "Healthy" || phase === "Stopped", converged: !!facts?.converged && !error, error });
    }
    for (const [key, actor] of this.services) {
      if (!this.model.services.has(key)) continue;
      const { phase, facts, error, terminal } = actor.getSnapshot().context;
      // A service held on another revision serves, but not what its manifest asks for: only a new revision or a retry changes that.
      const held = error ? undefined : facts?.held;
      out.push({ kind: "Service", name: key.slice("Service/".length), phase, message: error ?? held ?? facts?.message ?? "", ready: !held && (phase === "Running" || phase === "Stopped"), converged: !!facts?.converged && !error, error: error ?? held, terminal: terminal || !!held });
    }
    return out;
  }

  /** A service's rollout as `berth rollout status` shows it: the rollout in flight, the pin, and every replica. */
  async rolloutStatus(key: string): Promise<RolloutStatus | undefined> {
    const service = this.model.services.get(key);
    if (!service) return undefined;
    const rollout = this.rollouts.active(key);
    const pin = this.rollouts.pin(key);
    const latest = await this.rollouts.latest(key);
    const base = { service: key, manifestRevision: service.specHash, runningRevision: this.rollouts.deployed(key), rollout, pin: pin && pin.manifestRevision === service.specHash ? pin : undefined, latest };
    try {
      const containers = await observeContainers(this.driverFor(service.target), { project: service.project, environment: service.environment, service: service.service });
      const replicas = containers
        .sort((a, b) => a.slot - b.slot || b.created - a.created)
        .map((c) => ({ slot: c.slot, container: c.name, revision: c.specHash, state: c.state, health: this.deps.healthOf(c, service) ?? (service.healthCheck ? "unknown" : "none") }));
      return { ...base, replicas };
    } catch (error) {
      return { ...base, replicas: [], error: error instanceof Error ? error.message : String(error) };
    }
  }

  /** The driver for a target, if connected. */
  driverFor(target: string): DockerDriver {
    const entry = this.drivers.get(target);
    if (!entry?.driver || !this.isActive(target)) throw new TargetUnavailableError(target, this.targets.get(target)?.actor.getSnapshot().context.error);
    return entry.driver;
  }

  private isActive(target: string): boolean {
    return this.targets.get(target)?.actor.getSnapshot().context.phase === "Active";
  }

  private syncTargets(): void {
    for (const [name, target] of this.model.targets) {
      const specHash = hashOf(target.spec);
      const existing = this.targets.get(name);
      if (existing?.specHash === specHash) continue;
      existing?.actor.stop();
      this.drivers.get(name)?.driver?.close();
      try {
        this.drivers.set(name, { specHash, driver: this.options.connect(target) });
      } catch (error) {
        // The target's connect step reports it; the target stays unreachable, nothing else stops.
        this.drivers.set(name, { specHash, error: error instanceof Error ? error : new Error(String(error)) });
      }
      this.startTarget(name, specHash);
    }
    for (const [name, { actor }] of this.targets) {
      if (this.model.targets.has(name)) continue;
      actor.stop();
      this.targets.delete(name);
      this.drivers.get(name)?.driver?.close();
      this.drivers.delete(name);
    }
  }

  private startTarget(name: string, specHash: string): void {
    const log = this.options.log.with({ target: name });
    const actor = createActor(
      targetMachine.provide({
        actors: {
          connect: fromPromise(async () => {
            const { driver, error } = this.drivers.get(name)!;
            if (!driver) throw error;
            const started = performance.now();
            await driver.ping();
            const latencyMs = Math.round(performance.now() - started);
            const version = await driver.version();
            return { version: version.Version, apiVersion: version.ApiVersion, latencyMs };
          }),
          watchEvents: fromPromise(async ({ signal }) => {
            if (this.options.watchEvents === false) return new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
            await this.driverFor(name).events(ownerFilter({ target: name }), (event) => this.onEngineEvent(name, event), signal);
          }),
        },
      }),
      { input: { name } },
    );
    let lastPhase = "";
    let connections = 0;
    actor.subscribe((snapshot) => {
      const { phase, error, engine } = snapshot.context;
      if (phase === lastPhase && snapshot.context.connections === connections) return;
      this.options.observer?.targetChanged?.(name, phase, engine, error);
      if (phase === "Active" && snapshot.context.connections !== connections) {
        log.info("target connected", { engine: engine?.version, api: engine?.apiVersion, latencyMs: engine?.latencyMs });
        void this.discoverOrphans(name).then(() => this.enqueueTarget(name));
      } else if (phase === "Unreachable") {
        log.warn("target unreachable", { error, retryInMs: snapshot.context.backoffMs });
      }
      lastPhase = phase;
      connections = snapshot.context.connections;
    });
    this.targets.set(name, { specHash, actor });
    actor.start();
  }

  /** Environments that exist on a target but in no manifest are queued so their reconcile prunes them. */
  private async discoverOrphans(target: string): Promise<void> {
    try {
      const driver = this.driverFor(target);
      const containers = await observeContainers(driver, {});
      const networks = await driver.listNetworks(ownerFilter({ target }));
      const seen = [...containers.map((c) => ({ project: c.project, environment: c.environment })), ...networks.map((n) => ({ project: n.Labels?.[LABEL.project] ?? "", environment: n.Labels?.[LABEL.environment] ?? "" }))];
      for (const { project, environment } of seen) {
        const declared = this.model.environments.get(environment);
        if (!environment || (declared && declared.target === target && declared.project === project)) continue;
        this.addOrphan(environment, { project, target });
      }
    } catch (error) {
      this.options.log.warn("could not list objects on target", { target, error });
    }
  }

  private addOrphan(environment: string, owner: OrphanEnvironment): void {
    const owners = this.orphans.get(environment) ?? [];
    if (owners.some((o) => o.target === owner.target && o.project === owner.project)) return;
    this.orphans.set(environment, [...owners, owner]);
    this.environmentActor(environmentKey(environment));
    this.queue.add(environmentKey(environment));
  }

  private onEngineEvent(target: string, event: EngineEvent): void {
    this.options.observer?.engineEvent?.(target, event);
    if (!TRIGGERS.some((t) => event.action === t || event.action.startsWith(`${t}:`))) return;
    const environment = event.labels[LABEL.environment];
    const service = event.labels[LABEL.service];
    if (!environment || !service) return;
    const key = serviceKey(environment, service);
    this.options.log.debug("engine event", { target, action: event.action, service: key, container: event.id.slice(0, 12) });
    if (this.model.services.has(key)) this.enqueueWithDependents(key);
    else this.queue.add(environmentKey(environment));
  }

  private enqueueWithDependents(key: string): void {
    // A key that is failing already has its retry scheduled; events (often our own clean-up) must not skip the backoff.
    if (this.queue.retries(key) === 0) this.queue.add(key);
    const service = this.model.services.get(key);
    if (!service) return;
    for (const other of this.model.environments.get(service.environment)?.services ?? []) {
      if (other.dependsOn.some((d) => d.service === service.service)) this.queue.add(other.key);
    }
  }

  private enqueueAll(): void {
    for (const env of this.model.environments.values()) this.queue.add(env.key);
    for (const key of this.model.services.keys()) this.queue.add(key);
    for (const name of this.orphans.keys()) this.queue.add(environmentKey(name));
  }

  private enqueueTarget(target: string): void {
    for (const env of this.model.environments.values()) if (env.target === target) this.queue.add(env.key);
    for (const s of this.model.services.values()) if (s.target === target) this.queue.add(s.key);
    for (const [name, owners] of this.orphans) if (owners.some((o) => o.target === target)) this.queue.add(environmentKey(name));
  }

  private targetOfKey(key: string): string | undefined {
    if (key.startsWith("Service/")) return this.model.services.get(key)?.target;
    const name = key.slice("Environment/".length);
    return this.model.environments.get(name)?.target ?? this.orphans.get(name)?.[0]?.target;
  }

  private serviceActor(key: string): ServiceActor {
    return ensureActor(this.services, key, () => serviceMachine.provide({ actors: { reconcile: fromPromise(({ input }) => reconcileService(input.key, this.deps)) } }));
  }

  private environmentActor(key: string): EnvironmentActor {
    return ensureActor(this.environments, key, () => environmentMachine.provide({ actors: { reconcile: fromPromise(({ input }) => reconcileEnvironment(input.key, this.deps)) } }));
  }

  private projectActor(name: string) {
    return ensureActor(this.projects, name, () => projectMachine, { name });
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
    const target = this.targetOfKey(key);
    if (!target) return; // declared nowhere and never seen: nothing to do
    if (!this.isActive(target)) return; // the target's next connection queues it again
    const isService = key.startsWith("Service/");
    const actor: ServiceActor | EnvironmentActor = isService ? this.serviceActor(key) : this.environmentActor(key);
    const phaseBefore = actor.getSnapshot().context.phase;
    const specHash = this.specHashOf(key);
    const containerSpec = this.model.services.get(key)?.specHash;
    const endWork = this.options.metrics?.startWork(key);
    let result: "success" | "error" | "requeue_after" = "error";
    try {
      result = await this.reconcileOnce(key, actor, phaseBefore, specHash, containerSpec);
    } finally {
      endWork?.(result);
    }
  }

  private async reconcileOnce(key: string, actor: ServiceActor | EnvironmentActor, phaseBefore: string, specHash: string, containerSpec: string | undefined): Promise<"success" | "error" | "requeue_after"> {
    const isService = key.startsWith("Service/");
    actor.send({ type: "RECONCILE" });
    const snapshot = await waitFor(actor as Actor<typeof serviceMachine>, (s) => !s.matches("reconciling"), { timeout: Infinity });
    const context = snapshot.context as { phase: string; error?: string; terminal?: boolean; facts?: ServiceFacts & EnvironmentFacts };
    if (!isService) this.updateProjects();
    // An environment's phase follows its services': look at it again when one changes.
    const service = this.model.services.get(key);
    if (service && context.phase !== phaseBefore) this.queue.add(environmentKey(service.environment));

    const changes = context.error ? [] : (context.facts?.changes ?? []);
    // Changes to a spec that had already converged mean Docker drifted from it.
    const drift = changes.length > 0 && this.convergedHash.get(key) === specHash;
    if (!context.error && context.facts?.converged) this.convergedHash.set(key, specHash);
    const status = this.status().find((s) => `${s.kind}/${s.name}` === key);
    this.options.observer?.reconciled?.({
      key,
      kind: isService ? "Service" : "Environment",
      name: key.slice(key.indexOf("/") + 1),
      phase: context.phase,
      previousPhase: phaseBefore,
      message: status?.message ?? context.error ?? context.facts?.message ?? "",
      ready: status?.ready ?? false,
      converged: !context.error && !!context.facts?.converged,
      error: context.error,
      terminal: !!context.terminal,
      changes,
      drift,
      running: context.facts?.running,
      desired: context.facts?.desired,
      specHash: containerSpec,
    });

    if (context.error) {
      const retryInMs = context.terminal ? undefined : this.queue.addRateLimited(key);
      this.options.log.warn("reconcile failed", { key, error: context.error, retryInMs: retryInMs ?? "after the manifest changes" });
      return "error";
    }
    this.queue.forget(key);
    if (context.facts?.requeueAfterMs) this.queue.addAfter(key, context.facts.requeueAfterMs);
    return context.facts?.requeueAfterMs ? "requeue_after" : "success";
  }

  /** What a key's reconcile converges toward, to tell drift from a new spec. */
  private specHashOf(key: string): string {
    const service = this.model.services.get(key);
    // Scaling and suspending change what Docker should look like without changing the container spec.
    if (service) return hashOf({ spec: service.specHash, replicas: service.replicas, suspended: service.suspended });
    const environment = this.model.environments.get(key.slice("Environment/".length));
    const orphans = this.orphans.get(key.slice("Environment/".length)) ?? [];
    if (!environment) return hashOf({ absent: true, orphans, complete: this.model.complete });
    const { network, extraNetworks, volumes, pruneVolumes, suspended, target, project } = environment;
    return hashOf({ network, extraNetworks, volumes, pruneVolumes, suspended, target, project, orphans, complete: this.model.complete, services: environment.services.map((s) => s.service) });
  }

  private updateProjects(): void {
    for (const [name, actor] of this.projects) {
      const environments: Record<string, EnvironmentPhase> = {};
      for (const env of this.model.environments.values()) {
        if (env.project === name) environments[env.environment] = this.environments.get(env.key)?.getSnapshot().context.phase ?? "Provisioning";
      }
      actor.send({ type: "ENVIRONMENTS", environments });
      this.options.observer?.projectChanged?.(name, actor.getSnapshot().context.phase, Object.keys(environments).length);
    }
  }

  /**
   * Resolves once every key has converged (and, with `ready`, every service
   * runs healthy) or cannot get further without a manifest change or an
   * unreachable target coming back; or when the timeout passes. `ok` only
   * when nothing failed.
   */
  async settle(options: { timeoutMs: number; ready: boolean }): Promise<{ ok: boolean; pending: ResourceStatus[] }> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const all = this.status();
      const down = new Set(all.filter((s) => s.kind === "DeploymentTarget" && s.phase === "Unreachable").map((s) => s.name));
      const statuses = all.filter((s) => s.kind === "Service" || s.kind === "Environment");
      const stuck = statuses.filter((s) => s.terminal || down.has(this.targetOfKey(`${s.kind}/${s.name}`) ?? ""));
      const pending = statuses.filter((s) => !stuck.includes(s) && (!s.converged || (options.ready && !s.ready)));
      const failed = [...all.filter((s) => s.kind === "DeploymentTarget" && down.has(s.name)), ...stuck];
      if (pending.length === 0 && !this.queue.busy) return { ok: failed.length === 0, pending: failed };
      if (Date.now() > deadline) return { ok: false, pending: [...failed, ...pending] };
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The running actor for a key, created and started on first use. */
function ensureActor<M extends AnyStateMachine>(actors: Map<string, Actor<M>>, key: string, machine: () => M, input: unknown = { key }): Actor<M> {
  let actor = actors.get(key);
  if (!actor) {
    actor = createActor(machine(), { input } as never).start();
    actors.set(key, actor);
  }
  return actor;
}


/** Phases as shown to operators. */
export type Phase = ServicePhase | EnvironmentPhase;
