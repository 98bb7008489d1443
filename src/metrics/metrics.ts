import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { QueueObserver } from "../workqueue/workqueue.ts";

const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const QUEUE_BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10];
const DOCKER_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The controller a workqueue key belongs to: `service`, `environment`. */
export function controllerOf(key: string): string {
  return key.slice(0, key.indexOf("/")).toLowerCase();
}

/**
 * Every metric Berth exports, on a private registry. Names follow
 * controller-runtime where one exists, so dashboards for Kubernetes
 * controllers work; Berth's own are prefixed berth_. No label carries an id or a time.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly reconcileTotal = new Counter({ name: "controller_runtime_reconcile_total", help: "Total number of reconciliations per controller", labelNames: ["controller", "result"], registers: [this.registry] });
  readonly reconcileErrors = new Counter({ name: "controller_runtime_reconcile_errors_total", help: "Total number of reconciliation errors per controller", labelNames: ["controller"], registers: [this.registry] });
  readonly reconcileTime = new Histogram({ name: "controller_runtime_reconcile_time_seconds", help: "Length of time per reconciliation per controller", labelNames: ["controller"], buckets: RECONCILE_BUCKETS, registers: [this.registry] });
  readonly maxConcurrent = new Gauge({ name: "controller_runtime_max_concurrent_reconciles", help: "Maximum number of concurrent reconciles per controller", labelNames: ["controller"], registers: [this.registry] });
  readonly activeWorkers = new Gauge({ name: "controller_runtime_active_workers", help: "Number of currently used workers per controller", labelNames: ["controller"], registers: [this.registry] });

  readonly queueDepth = new Gauge({ name: "workqueue_depth", help: "Current depth of workqueue", labelNames: ["name"], registers: [this.registry] });
  readonly queueAdds = new Counter({ name: "workqueue_adds_total", help: "Total number of adds handled by workqueue", labelNames: ["name"], registers: [this.registry] });
  readonly queueRetries = new Counter({ name: "workqueue_retries_total", help: "Total number of retries handled by workqueue", labelNames: ["name"], registers: [this.registry] });
  readonly queueDuration = new Histogram({ name: "workqueue_queue_duration_seconds", help: "How long in seconds an item stays in workqueue before being requested", labelNames: ["name"], buckets: QUEUE_BUCKETS, registers: [this.registry] });
  readonly workDuration = new Histogram({ name: "workqueue_work_duration_seconds", help: "How long in seconds processing an item from workqueue takes", labelNames: ["name"], buckets: QUEUE_BUCKETS, registers: [this.registry] });
  readonly longestRunning = new Gauge({ name: "workqueue_longest_running_processor_seconds", help: "How many seconds has the longest running processor for workqueue been running", labelNames: ["name"], registers: [this.registry] });
  readonly unfinishedWork = new Gauge({ name: "workqueue_unfinished_work_seconds", help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration", labelNames: ["name"], registers: [this.registry] });

  readonly resourcePhase = new Gauge({ name: "berth_resource_phase", help: "1 for the current phase of each resource, 0 for the phases it left", labelNames: ["kind", "name", "phase"], registers: [this.registry] });
  readonly serviceHealthy = new Gauge({ name: "berth_service_healthy", help: "1 when every desired replica of a service is running and passes its health check", labelNames: ["project", "environment", "service"], registers: [this.registry] });
  readonly containersDesired = new Gauge({ name: "berth_containers_desired", help: "Replicas a service should run", labelNames: ["project", "environment", "service"], registers: [this.registry] });
  readonly containersRunning = new Gauge({ name: "berth_containers_running", help: "Containers of a service's current spec that are running", labelNames: ["project", "environment", "service"], registers: [this.registry] });
  readonly driftDetected = new Counter({ name: "berth_drift_detected_total", help: "Passes that found Docker different from a spec that had already converged", labelNames: ["kind"], registers: [this.registry] });
  readonly driftRepaired = new Counter({ name: "berth_drift_repaired_total", help: "Drift found and repaired in the same pass", labelNames: ["kind"], registers: [this.registry] });
  readonly deployments = new Counter({ name: "berth_deployments_total", help: "Finished rollouts by result", labelNames: ["result"], registers: [this.registry] });
  readonly rollbacks = new Counter({ name: "berth_rollbacks_total", help: "Rollbacks by result", labelNames: ["result"], registers: [this.registry] });
  readonly dockerRequests = new Counter({ name: "berth_docker_requests_total", help: "Docker Engine API requests", labelNames: ["target", "operation", "outcome"], registers: [this.registry] });
  readonly dockerLatency = new Histogram({ name: "berth_docker_request_duration_seconds", help: "Docker Engine API request latency", labelNames: ["target", "operation"], buckets: DOCKER_BUCKETS, registers: [this.registry] });
  readonly targetUp = new Gauge({ name: "berth_target_up", help: "1 when the target's engine answers", labelNames: ["target"], registers: [this.registry] });
  readonly manifestErrors = new Gauge({ name: "berth_manifest_errors", help: "Problems found in each manifest file at the last load", labelNames: ["file"], registers: [this.registry] });
  readonly manifestLastLoad = new Gauge({ name: "berth_manifest_last_successful_load_timestamp_seconds", help: "When the manifests last loaded without any error", registers: [this.registry] });
  readonly storeWrite = new Histogram({ name: "berth_store_write_duration_seconds", help: "Store write latency", labelNames: ["table"], buckets: DOCKER_BUCKETS, registers: [this.registry] });
  readonly notifications = new Counter({ name: "berth_notifications_total", help: "Webhook notifications by outcome: delivered, failed (an attempt that will be retried) or dropped (its receiver is no longer declared)", labelNames: ["outcome"], registers: [this.registry] });
  readonly sourceInfo = new Gauge({ name: "berth_source_info", help: "1 for the git source's commit in force (url without credentials, ref, commit, verified true/false/unchecked)", labelNames: ["url", "ref", "commit", "verified"], registers: [this.registry] });
  readonly sourceReady = new Gauge({ name: "berth_source_ready", help: "1 when the last fetch of the git source succeeded", labelNames: ["url", "ref"], registers: [this.registry] });
  readonly backupLastSuccess = new Gauge({ name: "berth_backup_last_success_timestamp_seconds", help: "When the last successful backup of a volume finished", labelNames: ["project", "environment", "service", "volume"], registers: [this.registry] });
  readonly backupSize = new Gauge({ name: "berth_backup_size_bytes", help: "Size of the last successful backup archive of a volume (compressed)", labelNames: ["project", "environment", "service", "volume"], registers: [this.registry] });
  readonly backupDuration = new Gauge({ name: "berth_backup_duration_seconds", help: "How long the last backup of a volume took, hooks included, whatever its result", labelNames: ["project", "environment", "service", "volume"], registers: [this.registry] });
  readonly backupInterval = new Gauge({ name: "berth_backup_schedule_interval_seconds", help: "Time between two scheduled backups of a volume (the next two runs of its schedule), for alerts such as no success in 2 intervals", labelNames: ["project", "environment", "service", "volume"], registers: [this.registry] });
  readonly leader = new Gauge({ name: "berth_leader", help: "1 while this daemon leads the daemons sharing its database (it alone reconciles), 0 while it follows", registers: [this.registry] });
  readonly leaseTerm = new Gauge({ name: "berth_lease_term", help: "The term this daemon leads with (it grows each time leadership changes hands); 0 while it follows", registers: [this.registry] });
  readonly backupRuns = new Counter({ name: "berth_backups_total", help: "Finished backups by result (succeeded, failed)", labelNames: ["project", "environment", "service", "volume", "result"], registers: [this.registry] });
  readonly storeErrors = new Counter({ name: "berth_store_errors_total", help: "Store writes that failed or landed in a deleted database file, so their observations were lost, by table and reason (disk_full, locked, readonly, missing, io, other)", labelNames: ["table", "reason"], registers: [this.registry] });

  private readonly inFlight = new Map<string, number>();

  constructor(options: { processMetrics?: boolean; controllers?: readonly string[] } = {}) {
    if (options.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters; their unsuffixed twins stay. Keeps the exposition lint-clean.
      for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) this.registry.removeSingleMetric(name);
    }
    // Series exist from the start at zero, so dashboards and alerts see 0, not "no data".
    for (const controller of options.controllers ?? ["service", "environment"]) {
      this.reconcileErrors.inc({ controller }, 0);
      this.queueRetries.inc({ name: controller }, 0);
      this.queueAdds.inc({ name: controller }, 0);
      this.queueDepth.set({ name: controller }, 0);
      for (const result of ["success", "error", "requeue", "requeue_after"]) this.reconcileTotal.inc({ controller, result }, 0);
    }
    for (const kind of ["Service", "Environment"]) {
      this.driftDetected.inc({ kind }, 0);
      this.driftRepaired.inc({ kind }, 0);
    }
    for (const result of ["success", "failed", "rolled_back"]) this.deployments.inc({ result }, 0);
    for (const result of ["success", "failed"]) this.rollbacks.inc({ result }, 0);
    for (const outcome of ["delivered", "failed", "dropped"]) this.notifications.inc({ outcome }, 0);
  }

  /** Queue metrics, labelled by the controller of each key. */
  queueObserver(): QueueObserver {
    return {
      onAdd: (key) => this.queueAdds.inc({ name: controllerOf(key) }),
      onRetry: (key) => this.queueRetries.inc({ name: controllerOf(key) }),
      onQueued: (key, waitedMs) => this.queueDuration.observe({ name: controllerOf(key) }, waitedMs / 1000),
    };
  }

  /** Sets the depth gauges from the keys waiting in the queue. */
  setDepths(waiting: readonly string[], controllers: readonly string[]): void {
    for (const c of controllers) this.queueDepth.set({ name: c }, waiting.filter((k) => controllerOf(k) === c).length);
  }

  /** Marks a key as being processed; returns the function that ends it. */
  startWork(key: string): (result: "success" | "error" | "requeue" | "requeue_after") => void {
    const controller = controllerOf(key);
    const started = performance.now();
    const token = `${key}\0${started}`;
    this.inFlight.set(token, started);
    this.activeWorkers.inc({ controller });
    return (result) => {
      const seconds = (performance.now() - started) / 1000;
      this.inFlight.delete(token);
      this.activeWorkers.dec({ controller });
      this.workDuration.observe({ name: controller }, seconds);
      this.reconcileTime.observe({ controller }, seconds);
      this.reconcileTotal.inc({ controller, result });
      if (result === "error") this.reconcileErrors.inc({ controller });
    };
  }

  /** Refreshes the gauges that describe work in progress; called before each scrape. */
  refreshInFlight(controllers: readonly string[]): void {
    const now = performance.now();
    for (const c of controllers) {
      const running = [...this.inFlight].filter(([token]) => controllerOf(token) === c).map(([, started]) => (now - started) / 1000);
      this.longestRunning.set({ name: c }, running.length ? Math.max(...running) : 0);
      this.unfinishedWork.set({ name: c }, running.reduce((a, b) => a + b, 0));
    }
  }

  /** Sets a resource's phase gauge: 1 for the current phase, 0 for the one it left. */
  setPhase(kind: string, name: string, phase: string, previous?: string): void {
    if (previous && previous !== phase) this.resourcePhase.set({ kind, name, phase: previous }, 0);
    this.resourcePhase.set({ kind, name, phase }, 1);
  }

  /** The text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
