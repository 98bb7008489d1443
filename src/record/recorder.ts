import type { EngineInfo, TargetPhase } from "../engine/targets.ts";
import type { DockerCall, EngineEvent } from "../docker/driver.ts";
import { LABEL } from "../docker/labels.ts";
import type { ContainerHealth } from "../docker/observe.ts";
import type { DesiredModel } from "../desired/model.ts";
import type { Change, ManagerObserver, ReconcileOutcome, RolloutReport } from "../engine/observer.ts";
import type { ProbeResult } from "../health/prober.ts";
import type { Logger, Redactor } from "../log/logger.ts";
import type { DesiredState } from "../manifests/load.ts";
import { manifestFiles } from "../manifests/health.ts";
import type { Resource } from "../manifests/types.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Store } from "../store/index.ts";
import { classifyStoreError, type StoreFault } from "../store/faults.ts";
import { hashOf } from "../desired/hash.ts";
import { maskedSpec } from "./masked-spec.ts";
import { sourceRecorder } from "./source-recorder.ts";
import type { SourceObserver } from "../source/follower.ts";

export interface RecorderOptions {
  store: Store;
  metrics: Metrics;
  redactor: Redactor;
  log: Logger;
  now?: () => number;
}

const ACTION_REASON: Record<string, string> = {
  "replica": "ContainerCreated",
  "container": "ContainerChanged",
  "image": "ImageReady",
  "network": "NetworkChanged",
  "volume": "VolumeChanged",
};

/**
 * Turns what the manager reports into rows (resources, events, deployments,
 * drift checks, health results, targets, audit log) and metrics. Writes are
 * chained so they land in order; a failed write is counted
 * (`berth_store_errors_total`), reported to the store's write health (which
 * `/readyz` reads) and logged once per distinct fault in one short line, never
 * thrown into the reconcile that caused it.
 */
export class Recorder implements ManagerObserver {
  private chain: Promise<void> = Promise.resolve();
  private readonly phases = new Map<string, string>();
  /** Every phase series each key has had, so all of them can be removed with it. */
  private readonly phaseSeries = new Map<string, Set<string>>();
  private readonly serviceSeries = new Map<string, { project: string; environment: string; service: string }>();
  private readonly pendingHealth: Parameters<Store["health"]["insert"]>[0] = [];
  private model?: DesiredModel;
  private readonly now: () => number;
  private pendingAudit: Parameters<Store["audit"]["record"]>[0] = [];
  /** Containers Berth itself is stopping or removing, so their deaths are not reported as failures. */
  private readonly stopping = new Map<string, number>();

  constructor(private readonly options: RecorderOptions) {
    this.now = options.now ?? Date.now;
    this.source = sourceRecorder({
      metrics: options.metrics,
      write: (table, fn) => this.write(table, () => fn(options.store)),
      event: (type, reason, message, kind, name, commit) => this.event(type, reason, message, kind, name, commit),
    });
  }

  /** Resolves when every write queued so far has landed. */
  flush(): Promise<void> {
    this.write("audit_log", () => this.flushAudit());
    return this.chain;
  }

  /** Driver hook: metrics for every call, an audit row for every mutating one. */
  readonly onDockerCall = (call: DockerCall): void => {
    const { metrics } = this.options;
    metrics.dockerRequests.inc({ target: call.target, operation: call.operation, outcome: call.outcome });
    metrics.dockerLatency.observe({ target: call.target, operation: call.operation }, call.durationMs / 1000);
    if (!call.mutating) return;
    const redact = this.options.redactor.redact.bind(this.options.redactor);
    this.pendingAudit.push({ time: this.now(), target: call.target, operation: call.operation, object: call.object ?? null, reason: call.reason ? redact(call.reason) : null, outcome: call.outcome, error: call.error ? redact(call.error) : null, durationMs: call.durationMs, commit: this.model?.revision ?? null });
    if (this.pendingAudit.length >= 50) this.write("audit_log", () => this.flushAudit());
    else queueMicrotask(() => this.write("audit_log", () => this.flushAudit()));
  };

  /** An audit entry for something other than an engine call (a webhook delivery), as `target` berth. */
  audit(entry: { operation: string; object?: string; reason?: string; outcome: string; error?: string }): void {
    const redact = (text?: string) => (text ? this.options.redactor.redact(text) : null);
    this.pendingAudit.push({ time: this.now(), target: "berth", operation: entry.operation, object: entry.object ?? null, reason: redact(entry.reason), outcome: entry.outcome, error: redact(entry.error), durationMs: 0, commit: this.model?.revision ?? null });
    queueMicrotask(() => this.write("audit_log", () => this.flushAudit()));
  }

  /** Driver hook: remembers the containers Berth is about to stop, before their `die` events arrive. */
  readonly beforeDockerCall = (call: { operation: string; object?: string }): void => {
    if ((call.operation !== "container.stop" && call.operation !== "container.remove") || !call.object) return;
    const now = this.now();
    for (const [id, at] of this.stopping) if (now - at > 120_000) this.stopping.delete(id);
    this.stopping.set(call.object, now);
  };

  desiredChanged(state: DesiredState, model: DesiredModel): void {
    this.model = model;
    const { metrics } = this.options;
    metrics.manifestErrors.reset();
    for (const file of state.files) metrics.manifestErrors.set({ file: file.file }, state.errors.filter((e) => e.file === file.file).length);
    if (state.complete) metrics.manifestLastLoad.set(state.loadedAt.getTime() / 1000);
    for (const error of state.errors) this.event("Warning", "InvalidManifest", error.message, "Manifest", error.file);
    // Every file's health, broken ones with their errors and what they hold in force, for `berth status`.
    const files = manifestFiles(state).map((f) => ({ ...f, errors: f.errors.map((e) => ({ ...e, message: this.options.redactor.redact(e.message) })) }));
    this.write("manifest_files", () => this.options.store.manifests.replace(files));
    const declared: { key: string; kind: string; name: string; spec: unknown; specHash: string; resource?: Resource }[] = [];
    for (const target of model.targets.values()) declared.push({ key: `DeploymentTarget/${target.metadata.name}`, kind: "DeploymentTarget", name: target.metadata.name, spec: target.spec, specHash: hashOf(target.spec), resource: target });
    for (const project of model.projects.values()) declared.push({ key: `Project/${project.metadata.name}`, kind: "Project", name: project.metadata.name, spec: project.spec, specHash: hashOf(project.spec), resource: project });
    for (const env of model.environments.values()) {
      const resource = state.resources.find((r) => r.kind === "Environment" && r.metadata.name === env.environment);
      declared.push({ key: env.key, kind: "Environment", name: env.environment, spec: maskedSpec(resource?.spec), specHash: hashOf(resource?.spec ?? {}), resource });
    }
    for (const service of model.services.values()) {
      const resource = state.resources.find((r) => r.kind === "Service" && r.metadata.name === service.service);
      declared.push({ key: service.key, kind: "Service", name: service.key.slice("Service/".length), spec: maskedSpec(resource?.spec), specHash: service.specHash || "invalid", resource });
    }
    this.write("resources", async () => {
      const { resources } = this.options.store;
      for (const d of declared) {
        await resources.declare({ key: d.key, kind: d.kind, name: d.name, spec: d.spec, specHash: d.specHash, sourceFile: d.resource?.source.file, revision: state.revision?.commit });
      }
      // Rows of resources no manifest declares any more go, as the resources did; their events and history stay.
      // Only from a complete state: a broken file must not make its resources' rows vanish.
      if (!state.complete) return;
      const keys = new Set(declared.map((d) => d.key));
      await resources.forget((await resources.list()).map((r) => r.key).filter((key) => !keys.has(key)));
    });
    // Series of resources no manifest declares any more leave the exposition with them.
    const keys = new Set(declared.map((d) => d.key));
    for (const [key, phases] of this.phaseSeries) {
      if (keys.has(key)) continue;
      const [kind, ...name] = key.split("/");
      for (const phase of phases) metrics.resourcePhase.remove({ kind: kind!, name: name.join("/"), phase });
      if (kind === "DeploymentTarget") metrics.targetUp.remove({ target: name.join("/") });
      this.phaseSeries.delete(key);
      this.phases.delete(key);
    }
    for (const [key, labels] of this.serviceSeries) {
      if (keys.has(key)) continue;
      for (const gauge of [metrics.containersDesired, metrics.containersRunning, metrics.serviceHealthy]) gauge.remove(labels);
      this.serviceSeries.delete(key);
    }
  }

  targetChanged(name: string, phase: TargetPhase, engine: EngineInfo | undefined, error: string | undefined): void {
    const { metrics, store } = this.options;
    metrics.targetUp.set({ target: name }, phase === "Active" ? 1 : 0);
    this.setPhase("DeploymentTarget", name, `DeploymentTarget/${name}`, phase);
    if (phase === "Connecting") return;
    const cleanError = error === undefined ? undefined : this.options.redactor.redact(error);
    this.write("targets", () => store.targets.report({ name, status: phase, engineVersion: engine?.version, apiVersion: engine?.apiVersion, latencyMs: engine?.latencyMs, error: cleanError }));
    this.write("resources", () => store.resources.report(`DeploymentTarget/${name}`, { phase, message: cleanError ?? (engine ? `Docker ${engine.version}` : ""), ready: phase === "Active", converged: phase === "Active" }));
    if (phase === "Active") this.event("Normal", "Connected", `Docker ${engine?.version} (API ${engine?.apiVersion})`, "DeploymentTarget", name);
    else this.event("Warning", "Unreachable", cleanError ?? "engine does not answer", "DeploymentTarget", name);
  }

  reconciled(outcome: ReconcileOutcome): void {
    const { metrics, store } = this.options;
    this.setPhase(outcome.kind, outcome.name, outcome.key, outcome.phase);
    const service = this.model?.services.get(outcome.key);
    if (service) {
      const labels = { project: service.project, environment: service.environment, service: service.service };
      this.serviceSeries.set(outcome.key, labels);
      metrics.containersDesired.set(labels, outcome.desired ?? 0);
      metrics.containersRunning.set(labels, outcome.running ?? 0);
      metrics.serviceHealthy.set(labels, outcome.ready && outcome.phase === "Running" ? 1 : 0);
    }
    if (outcome.drift) {
      metrics.driftDetected.inc({ kind: outcome.kind });
      if (!outcome.error) metrics.driftRepaired.inc({ kind: outcome.kind });
      const summary = outcome.changes.map((c) => `${c.path}: ${c.observed} -> ${c.desired}`).join("; ");
      this.event("Warning", "DriftDetected", `Docker differed from the converged spec and was repaired: ${summary}`, outcome.kind, outcome.name);
      const redact = (text: string) => this.options.redactor.redact(text);
      const differences = outcome.changes.map((c) => ({ path: redact(c.path), observed: redact(c.observed), desired: redact(c.desired) }));
      this.write("drift_checks", () => store.drift.record(outcome.key, differences, !outcome.error));
    }
    this.changed(outcome.kind, outcome.name, outcome.changes);
    // One event per distinct cause: a retried failure with the same error is not reported again.
    if (outcome.error && outcome.newError) this.event("Warning", outcome.reason ?? (outcome.terminal ? "InvalidSpec" : "ReconcileFailed"), outcome.error, outcome.kind, outcome.name);
    if (outcome.phase !== outcome.previousPhase) this.event(outcome.phase === "Failed" || outcome.phase === "Degraded" ? "Warning" : "Normal", outcome.phase, outcome.message, outcome.kind, outcome.name);
    this.write("resources", () => store.resources.report(outcome.key, { phase: outcome.phase, message: this.options.redactor.redact(outcome.message), ready: outcome.ready, converged: outcome.converged, ...(outcome.reason ? { reason: outcome.reason } : {}) }));
  }

  engineEvent(target: string, event: EngineEvent): void {
    const environment = event.labels[LABEL.environment];
    const service = event.labels[LABEL.service];
    if (!environment || !service) return;
    // Exec results come from the prober, which reads each one from the container's health log.
    if (event.action.startsWith("health_status:")) return;
    if (event.action !== "die" && event.action !== "oom") return;
    const stoppedAt = this.stopping.get(event.id);
    if (event.action === "die" && stoppedAt !== undefined && this.now() - stoppedAt < 120_000) {
      this.stopping.delete(event.id);
      return; // Berth stopped it on purpose (an update, a scale-down, a prune)
    }
    const exit = event.labels.exitCode !== undefined ? ` with code ${event.labels.exitCode}` : "";
    const name = event.labels.name ?? event.id.slice(0, 12);
    this.event("Warning", event.action === "oom" ? "OutOfMemory" : "ContainerDied", `container ${name} on ${target} ${event.action === "oom" ? "ran out of memory" : `exited${exit}`}`, "Service", `${environment}/${service}`);
  }

  /** Every result of every check becomes a health_results row; only changes become events. */
  healthProbed(serviceKey: string, containerId: string, status: ContainerHealth, result: ProbeResult, changed: boolean): void {
    const check = this.model?.services.get(serviceKey)?.healthCheck;
    // Masked whole, then cut: a secret crossing a cut must not be kept in part.
    const excerpt = (max: number) => this.options.redactor.redactThenTruncate(result.output, max);
    this.pendingHealth.push({
      instance: containerId.slice(0, 12),
      service: serviceKey,
      time: this.now(),
      status,
      checkType: check?.exec ? "exec" : check?.http ? "http" : "tcp",
      httpStatus: result.status ?? null,
      exitCode: result.exitCode ?? null,
      output: excerpt(500),
      responseMs: result.responseMs,
      error: result.ok ? null : excerpt(200),
    });
    // Batched: one insert per burst of results, not one per probe.
    if (this.pendingHealth.length === 1) queueMicrotask(() => this.write("health_results", () => this.options.store.health.insert(this.pendingHealth.splice(0))));
    if (changed) this.event(status === "unhealthy" ? "Warning" : "Normal", status === "healthy" ? "Healthy" : status === "unhealthy" ? "Unhealthy" : "HealthStarting", `container ${containerId.slice(0, 12)}: ${excerpt(200)}`, "Service", serviceKey.slice("Service/".length));
  }

  /** One Normal event per Docker change a reconcile or a rollout step made. */
  changed(kind: string, name: string, changes: readonly Change[]): void {
    for (const change of changes) {
      const object = change.path.split(" ")[0]!;
      this.event("Normal", ACTION_REASON[object] ?? "Changed", `${change.path}: ${change.observed} -> ${change.desired}`, kind, name);
    }
  }

  /** Rollouts: a Warning when one fails (naming the check and its output), events and counters when one ends. */
  rolloutChanged(rollout: RolloutReport): void {
    const { state, outcome, hasHealthCheck } = rollout;
    const { metrics } = this.options;
    const name = rollout.key.slice("Service/".length);
    const revision = rollout.revision.slice(0, 12);
    if (state === "building") this.event("Normal", "RolloutStarted", `revision ${revision}${rollout.previous ? ` replaces ${rollout.previous.slice(0, 12)}` : ""} (${rollout.trigger})`, "Service", name);
    if (state === "rollingBack") this.event("Warning", "RolloutFailed", `revision ${revision}: ${rollout.failure}; rolling back to ${rollout.previous?.slice(0, 12)}`, "Service", name);
    if (!outcome) return;
    metrics.deployments.inc({ result: outcome });
    if (outcome === "success") this.event("Normal", "DeploymentSucceeded", `revision ${revision} is running${hasHealthCheck ? " and healthy" : ""}`, "Service", name);
    else if (outcome === "rolled_back") {
      metrics.rollbacks.inc({ result: "success" });
      this.event("Warning", "RolledBack", `revision ${revision} failed (${rollout.failure}); revision ${rollout.previous!.slice(0, 12)} restored and healthy; the failed revision is not retried until the manifests change or berth rollout retry`, "Service", name);
    } else {
      if (state === "rollbackFailed") metrics.rollbacks.inc({ result: "failed" });
      this.event("Warning", "DeploymentFailed", `revision ${revision}: ${rollout.failure}${rollout.rollbackError ? `; rollback failed: ${rollout.rollbackError}` : ""}`, "Service", name);
    }
  }

  projectChanged(name: string, phase: string, environments: number): void {
    this.setPhase("Project", name, `Project/${name}`, phase);
    this.write("resources", () => this.options.store.resources.report(`Project/${name}`, { phase, message: `${environments} environment(s)`, ready: phase === "Ready" || phase === "Stopped", converged: true }));
  }

  private setPhase(kind: string, name: string, key: string, phase: string): void {
    this.options.metrics.setPhase(kind, name, phase, this.phases.get(key));
    this.phases.set(key, phase);
    const series = this.phaseSeries.get(key) ?? new Set<string>();
    this.phaseSeries.set(key, series.add(phase));
  }

  /** The git source's status, metrics and events, written the recorder's way. */
  readonly source: SourceObserver;

  private event(type: "Normal" | "Warning", reason: string, message: string, kind: string, name: string, commitOf?: string): void {
    const clean = this.options.redactor.redact(message);
    const commit = commitOf ?? this.model?.revision;
    this.write("events", () => this.options.store.events.record({ type, reason, message: clean, kind, name, commit }));
  }

  /** Writes the audit rows gathered so far; nothing (not a write) when there are none. */
  private flushAudit(): Promise<void> | undefined {
    const rows = this.pendingAudit.splice(0);
    return rows.length ? this.options.store.audit.record(rows) : undefined;
  }

  /**
   * Queues a write behind the previous ones; times it; on failure counts it,
   * marks the store's writes failing and logs the fault (once per distinct one)
   * instead of throwing. A write that lands in a deleted database file is lost too.
   */
  private write(table: string, fn: () => Promise<unknown> | undefined): void {
    this.chain = this.chain.then(async () => {
      const { store } = this.options;
      const end = this.options.metrics.storeWrite.startTimer({ table });
      let fault: StoreFault | undefined;
      try {
        const pending = fn();
        if (!pending) return;
        await pending;
        fault = store.fileProblem();
      } catch (error) {
        fault = classifyStoreError(error, store.location);
      } finally {
        end();
      }
      if (fault) this.writeFailed(table, fault);
      else this.writeSucceeded(table);
    });
  }

  private writeFailed(table: string, fault: StoreFault): void {
    this.options.metrics.storeErrors.inc({ table, reason: fault.reason });
    // The message names the database and what to do; the query and its values stay out.
    if (this.options.store.writes.failed(table, fault, this.now()).first) this.options.log.error(`store write failed: ${fault.message}`, { table, reason: fault.reason });
  }

  private writeSucceeded(table: string): void {
    const ended = this.options.store.writes.succeeded(table, this.now());
    if (ended) this.options.log.info("store writes recovered", { failed: ended.count, reason: ended.fault.reason, since: new Date(ended.since).toISOString() });
  }
}
