import type { Driver, EngineEvent } from "../docker/driver.ts";
import { LABEL } from "../docker/labels.ts";
import { credentialsFor, secretsOf, readDockerConfig } from "../docker/registry-auth.ts";
import type { AgeKeyring } from "../secrets/age-keys.ts";
import { HeldDesired } from "./held-desired.ts";
import { buildDesiredModel, secretValuesOf, type DesiredModel } from "../desired/model.ts";
import type { HostPathOptions } from "../desired/host-paths.ts";
import { environmentKey, serviceKey } from "../desired/names.ts";
import { HealthProber } from "../health/prober.ts";
import type { Logger, Redactor } from "../log/logger.ts";
import type { DesiredState } from "../manifests/load.ts";
import type { DeploymentTarget } from "../manifests/types.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { QueueClock } from "../workqueue/workqueue.ts";
import type { Controller, KeyStatus, PassContext, ResourceStatus } from "./controller.ts";
import { Orphans } from "./orphans.ts";
import type { ManagerObserver } from "./observer.ts";
import { planPass, type PlanResult } from "./plan.ts";
import { Runner } from "./runner.ts";
import { settleState } from "./settle.ts";
import type { TargetConnections, TargetConnectionsFactory, TargetView } from "./targets.ts";

/** Engine events that may mean a container drifted from its spec. */
const TRIGGERS = ["die", "destroy", "stop", "kill", "oom", "health_status"];

export interface ManagerOptions {
  log: Logger;
  redactor: Redactor;
  /** Builds the driver for a target (local socket or SSH). */
  connect: (target: DeploymentTarget) => Driver;
  /** The per-kind reconcilers, and the DeploymentTarget connections. */
  controllers: readonly Controller[];
  targets: TargetConnectionsFactory;
  workers?: number;
  resyncMs?: number;
  /** Follow engine event streams (the daemon does; a one-shot apply need not). */
  watchEvents?: boolean;
  daemonEnv?: NodeJS.ProcessEnv;
  /** What the host's operator lets manifests read and mount beyond the defaults (--allow-host-path). */
  hostPaths?: HostPathOptions;
  /** The operator's age identities (--age-key-file), for env files encrypted with SOPS. */
  ageKeys?: AgeKeyring;
  queueClock?: QueueClock;
  /** Called before each periodic resync, e.g. to re-read the manifests. */
  beforeResync?: () => Promise<void>;
  /** Hears what the manager sees and does: the store, events and metrics listen here. */
  observer?: ManagerObserver;
  metrics?: Metrics;
  /** Where rollout records, pins and revision specs are kept, so a restart resumes them. */
  store: PassContext["store"];
  /** How often a rollout's health wait looks again (default 500 ms). */
  rolloutPollMs?: number;
  now?: () => number;
}

/**
 * Composes the runtime: the desired model, the target connections, Berth's
 * health prober and the generic runner that takes each key to its kind's
 * controller. Holds no decision of its own.
 */
export class Manager {
  private model: DesiredModel = { targets: new Map(), projects: new Map(), environments: new Map(), services: new Map(), complete: true };
  /** Copies of environments on targets (or under projects) where no manifest declares them, by environment name. */
  private readonly orphans = new Orphans((environment) => this.runner.queue.add(environmentKey(environment)));
  private readonly prober: HealthProber;
  private readonly targets: TargetConnections;
  private readonly runner: Runner;
  private resyncTimer?: NodeJS.Timeout;
  private running = false;

  /** A desired state waiting for SOPS data keys. */
  private readonly held: HeldDesired;

  constructor(private readonly options: ManagerOptions) {
    this.held = new HeldDesired((state) => this.setDesired(state), options.log);
    this.prober = new HealthProber((key, container, status, result, changed) => {
      options.observer?.healthProbed?.(key, container, status, result, changed);
      if (!changed) return;
      options.log.info("health changed", { service: key, container: container.slice(0, 12), status, output: result.output });
      this.enqueueWithDependents(key);
    }, { redact: (text) => options.redactor.redact(text) });
    this.targets = options.targets({
      connect: options.connect,
      watchEvents: options.watchEvents !== false,
      listener: {
        connected: (name) => {
          const engine = this.targets.status().find((t) => t.name === name)?.engine;
          options.log.info("target connected", { target: name, engine: engine?.version, api: engine?.apiVersion, latencyMs: engine?.latencyMs });
          void this.discoverOrphans(name).then(() => this.enqueueTarget(name));
        },
        changed: (name, phase, engine, error) => {
          options.observer?.targetChanged?.(name, phase, engine, error);
          if (phase === "Unreachable") options.log.warn("target unreachable", { target: name, error });
        },
        event: (name, event) => this.onEngineEvent(name, event),
      },
    });
    this.runner = new Runner({ controllers: options.controllers, context: () => this.context(), isActive: (t) => this.targets.isActive(t), log: options.log, observer: options.observer, metrics: options.metrics, queueClock: options.queueClock, workers: this.workers });
  }

  /** What every pass is given. */
  private context(dryRun?: PassContext["dryRun"]): PassContext {
    const { options } = this;
    return {
      model: () => this.model,
      driver: (target) => this.targets.driver(target),
      status: (key) => this.runner.status(key),
      store: options.store,
      probes: { track: (...args) => this.prober.track(...args), status: (id) => this.prober.status(id), lastOutput: (id) => this.prober.lastResult(id)?.output },
      log: options.log,
      now: options.now ?? Date.now,
      redact: (text) => options.redactor.redact(text),
      orphans: (environment) => this.orphans.of(environment),
      forgetOrphan: (environment, owner) => this.orphans.forget(environment, owner),
      rolloutChanged: (report) => options.observer?.rolloutChanged?.(report),
      pullCredentials: (target, ref) => {
        // config.json is read at each pull, so a `docker login` on the daemon's host counts from the next pass.
        const credentials = credentialsFor(ref, this.model.registries?.get(target) ?? [], readDockerConfig(options.daemonEnv ?? process.env));
        for (const secret of secretsOf(credentials.auth)) options.redactor.addOwnSecret(secret);
        return credentials;
      },
      pollMs: options.rolloutPollMs,
      dryRun,
    };
  }

  /** Takes a new desired state: rebuilds the model, connects targets, queues everything. */
  setDesired(state: DesiredState): void {
    const { ageKeys } = this.options;
    const model = buildDesiredModel(state, { daemonEnv: this.options.daemonEnv, hostPaths: this.options.hostPaths, ageKeys });
    if (this.held.hold(state, ageKeys)) return;
    const previous = this.model;
    this.model = model;
    // Values a broken or rotated spec no longer holds stay masked (the redactor retires them): old containers still print them.
    this.options.redactor.setSecrets(secretValuesOf(this.model));
    this.options.observer?.desiredChanged?.(state, this.model);
    // An environment that left the manifests, or moved, leaves a copy behind to prune now, not at the next resync.
    this.orphans.modelChanged(previous, this.model);
    for (const name of previous.projects.keys()) if (!this.model.projects.has(name)) this.runner.forget(`Project/${name}`);
    // A removed service is queued once more: its pass ends its rollout, drops its pin and stops its probes.
    for (const key of previous.services.keys()) if (!this.model.services.has(key)) this.runner.queue.add(key);
    this.targets.sync(this.model.targets);
    this.targets.refresh();
    this.enqueueAll();
  }

  /** Starts controllers (each may recover what a crash left), workers and the periodic resync. */
  async start(): Promise<void> {
    await this.held.settled();
    if (this.running) return;
    this.running = true;
    // Keys a controller remembers but no manifest declares (removed while no daemon ran) get one pass to end them.
    for (const controller of this.options.controllers) for (const key of (await controller.start?.(this.context())) ?? []) this.runner.queue.add(key);
    this.runner.start();
    this.resyncTimer = setInterval(() => void this.resync(), this.resyncMs);
    this.resyncTimer.unref();
  }

  /** Stops taking work, lets in-flight passes finish, then closes connections. Rollout records stay for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.resyncTimer);
    await this.runner.stop();
    this.prober.stop();
    // Old containers a rollout took out of service finish their stop grace before the connections close.
    await this.targets.awaitRetirements();
    this.targets.stop();
  }

  get workers(): number {
    return this.options.workers ?? 4;
  }

  get resyncMs(): number {
    return this.options.resyncMs ?? 5 * 60_000;
  }

  /** Brings the gauges that describe the queue and work in flight up to date (before a scrape). */
  refreshMetrics(): void {
    this.options.metrics?.setDepths(this.runner.queue.waiting, this.runner.kinds);
    this.options.metrics?.refreshInFlight(this.runner.kinds);
  }

  /** Re-reads (via beforeResync) and queues every key, so drift is found even when an event was missed. */
  async resync(): Promise<void> {
    try {
      await this.options.beforeResync?.();
    } catch (error) {
      this.options.log.warn("resync could not re-read the manifests", { error });
    }
    // A resync trusts nothing read before it: what changed without an event (a network, a missed stream) shows now.
    this.targets.refresh();
    for (const t of this.targets.status()) if (t.phase === "Active") await this.discoverOrphans(t.name);
    this.enqueueAll();
  }

  get desired(): DesiredModel {
    return this.model;
  }

  targetStatus(): TargetView[] {
    return this.targets.status();
  }

  /** Queues a key now (an operator's request was recorded for its next pass). */
  enqueue(key: string): void {
    this.runner.queue.add(key);
  }

  /** The last pass of a key, with what it saw. */
  keyStatus(key: string): KeyStatus | undefined {
    return this.runner.status(key);
  }

  /** What every controller last made of its resource. */
  status(): ResourceStatus[] {
    const out: ResourceStatus[] = [];
    for (const t of this.targets.status()) out.push({ kind: "DeploymentTarget", name: t.name, phase: t.phase, message: t.error ?? (t.engine ? `Docker ${t.engine.version} (API ${t.engine.apiVersion})` : ""), ready: t.phase === "Active", converged: true, error: t.error });
    const keys = [...[...this.model.projects.keys()].map((p) => `Project/${p}`), ...[...this.model.environments.values()].map((e) => e.key), ...this.model.services.keys()];
    for (const key of keys) {
      const s = this.runner.status(key);
      const [kind, ...rest] = key.split("/");
      out.push(s ? { kind: s.kind, name: s.name, phase: s.phase, message: s.message, ready: s.ready, converged: s.converged, error: s.error, terminal: s.terminal } : { kind: kind!, name: rest.join("/"), phase: kind === "Service" ? "Configured" : kind === "Project" ? "Progressing" : "Provisioning", message: "", ready: false, converged: false });
    }
    return out;
  }

  /** The driver for a target, if connected. */
  driverFor(target: string): Driver {
    return this.targets.driver(target);
  }

  /** The last lines the newest container of a service printed, for a failure report. */
  async lastLogs(key: string, lines = 20): Promise<{ container: string; state: string; exitCode?: number; logs: string } | undefined> {
    const service = this.model.services.get(key);
    const newest = [...(this.runner.status(key)?.result?.replicas ?? [])].sort((a, b) => b.created - a.created)[0];
    if (!service || !newest) return undefined;
    const logs = await this.targets.driver(service.target).logs(newest.id, lines);
    return { container: newest.container, state: newest.state, exitCode: newest.exitCode, logs };
  }

  /**
   * Resolves once every key has converged (and, with `ready`, every service
   * runs healthy) or cannot get further by waiting: a terminal failure, an
   * unreachable target; or when the timeout passes. `ok` only when nothing failed.
   */
  async settle(options: { timeoutMs: number; ready: boolean }): Promise<{ ok: boolean; pending: ResourceStatus[] }> {
    const deadline = Date.now() + options.timeoutMs;
    const dependenciesOf = (s: ResourceStatus) => {
      const service = s.kind === "Service" ? this.model.services.get(`Service/${s.name}`) : undefined;
      return service ? service.dependsOn.map((d) => serviceKey(service.environment, d.service)) : [];
    };
    const targetOf = (s: ResourceStatus) => this.runner.controllerOf(`${s.kind}/${s.name}`)?.targetOf(`${s.kind}/${s.name}`, this.context()) ?? "";
    for (;;) {
      const { pending, failed } = settleState({ statuses: this.status(), failures: this.runner.failures(), targetOf, ready: options.ready, dependenciesOf });
      if (pending.length === 0 && !this.runner.queue.busy) return { ok: failed.length === 0, pending: failed };
      if (Date.now() > deadline) return { ok: false, pending: [...failed, ...pending] };
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** `plan`: every key's pass once, dry (environments first, so services see what they would create). */
  async plan(): Promise<PlanResult> {
    await this.held.settled();
    const ctx = this.context({ assumed: { networks: [], volumes: [] } });
    for (const t of this.targets.status()) if (t.phase === "Active") await this.discoverOrphans(t.name);
    const environments = [...new Set([...[...this.model.environments.values()].map((e) => e.key), ...this.orphans.names().map(environmentKey)])];
    return planPass(this.runner, ctx, [...environments, ...this.model.services.keys()], this.targets);
  }

  /** Waits until every target has connected or failed to, for one-shot commands. */
  async connected(timeoutMs = 30_000): Promise<void> {
    await this.held.settled();
    const deadline = Date.now() + timeoutMs;
    while (this.targets.status().some((t) => t.phase === "Connecting") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /** Environments that exist on a target but in no manifest are queued so their pass prunes them. */
  private async discoverOrphans(target: string): Promise<void> {
    try {
      await this.orphans.discover(this.targets.driver(target), this.model);
    } catch (error) {
      this.options.log.warn("could not list objects on target", { target, error });
    }
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
    else this.runner.queue.add(environmentKey(environment));
  }

  private enqueueWithDependents(key: string): void {
    // A key that is failing already has its retry scheduled; events (often our own clean-up) must not skip the backoff.
    if (this.runner.queue.retries(key) === 0) this.runner.queue.add(key);
    for (const other of this.runner.status(key)?.result?.dependents ?? []) this.runner.queue.add(other);
  }

  private enqueueAll(): void {
    for (const name of this.model.projects.keys()) this.runner.queue.add(`Project/${name}`);
    for (const env of this.model.environments.values()) this.runner.queue.add(env.key);
    for (const key of this.model.services.keys()) this.runner.queue.add(key);
    for (const name of this.orphans.names()) this.runner.queue.add(environmentKey(name));
  }

  private enqueueTarget(target: string): void {
    for (const env of this.model.environments.values()) if (env.target === target) this.runner.queue.add(env.key);
    for (const s of this.model.services.values()) if (s.target === target) this.runner.queue.add(s.key);
    for (const name of this.orphans.onTarget(target)) this.runner.queue.add(environmentKey(name));
  }
}
