import { createHash } from "node:crypto";
import type { DesiredModel } from "../desired/model.ts";
import type { HostPathOptions } from "../desired/host-paths.ts";
import type { ManagerObserver, ReconcileOutcome, RolloutReport } from "../engine/observer.ts";
import type { Logger, Redactor } from "../log/logger.ts";
import type { DesiredState } from "../manifests/load.ts";
import type { NotificationEventName } from "../manifests/types.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { AgeKeyring } from "../secrets/age-keys.ts";
import type { Store } from "../store/index.ts";
import { DeliveryLoop, type DeliveryClock, type ReceiverView } from "./delivery.ts";
import type { OutboxDeployment } from "../store/notification-repository.ts";
import { outcomeOf, type NotificationPayload } from "./payload.ts";
import { driftDedupeKey, endedOfReport, endedOfRow, rolloutEventName, rolloutMessage, type EndedRollout } from "./rollout-events.ts";
import { concerns, declaredReceivers, listensTo, ReceiverSecrets } from "./receivers.ts";

/** An outcome to tell receivers about, as other parts of Berth (e.g. the git source) report it. */
export interface NotificationEvent {
  event: NotificationEventName;
  project?: string;
  environment?: string;
  service?: string;
  commit?: string;
  revision?: string;
  imageDigest?: string;
  /** Seconds the outcome took (rollouts). */
  duration?: number;
  /** Shown to people; secret values in it are masked before it is stored. */
  message: string;
  /**
   * Names this occurrence: a second notify with the same key (a retry, a
   * restarted daemon seeing the same outcome) sends nothing more. Use what
   * identifies the outcome, e.g. `source.failed:<repo>:<commit>:<cause>`.
   */
  dedupeKey: string;
  /** When it happened (default: now). */
  time?: number;
}

export interface NotifierOptions {
  store: Store;
  redactor: Redactor;
  log: Logger;
  metrics: Metrics;
  clock?: DeliveryClock;
  fetch?: typeof fetch;
  /** Where `daemonEnv` secret sources are read (berth's own environment). */
  daemonEnv?: NodeJS.ProcessEnv;
  hostPaths?: HostPathOptions;
  /** The operator's age identities, for receivers' SOPS-encrypted env files. */
  ageKeys?: AgeKeyring;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  pollMs?: number;
  /** How long one request may take (default 10 s). */
  timeoutMs?: number;
}

const systemClock: DeliveryClock = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms).unref(), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };

/**
 * Webhook notifications: hears rollouts, repaired drift and invalid manifests
 * as a ManagerObserver, takes other parts' events through `notify`, writes one
 * outbox row per (outcome, receiver), and runs the delivery loop that sends
 * them. Receivers' URLs and keys are read only when a row is sent.
 */
export class Notifier implements ManagerObserver {
  readonly delivery: DeliveryLoop;
  private view?: ReceiverView & { revision?: string };
  private model?: DesiredModel;
  private chain: Promise<void> = Promise.resolve();
  /** Events reported before the first manifests were loaded: which receivers hear them is not known yet. */
  private early: NotificationEvent[] = [];
  /** The project of every environment any model named: a rollout of an environment since removed still reaches its project's receivers only. */
  private readonly projects = new Map<string, string>();
  /** Rows this process queued, for `sendOnce`. */
  private readonly queued = new Set<number>();
  private recovered = false;
  private readonly clock: DeliveryClock;

  constructor(private readonly options: NotifierOptions) {
    this.clock = options.clock ?? systemClock;
    this.delivery = new DeliveryLoop({
      store: options.store,
      clock: this.clock,
      log: options.log,
      metrics: options.metrics,
      fetch: options.fetch ?? fetch,
      receivers: () => this.view,
      redact: (text) => options.redactor.redact(text),
      addSecret: (value) => options.redactor.addOwnSecret(value),
      initialBackoffMs: options.initialBackoffMs,
      maxBackoffMs: options.maxBackoffMs,
      pollMs: options.pollMs,
      timeoutMs: options.timeoutMs,
    });
  }

  /**
   * Queues a notification of `event` for every declared receiver whose filter
   * includes `event.event` and that it concerns: a project-less event
   * (manifest.invalid, source.*) goes to every receiver; one with a project to
   * that project's receivers and its environments' (only the named
   * environment's when one is given); a rollout or drift whose project is
   * unknown to none.
   * Fire-and-forget: never throws; the returned promise resolves once the rows
   * are written (a store failure is logged, not thrown). Idempotent per
   * `dedupeKey`, also across restarts. Before the first manifests are loaded,
   * events wait in memory for them. Secrets in `message` are masked.
   */
  notify(event: NotificationEvent): Promise<void> {
    if (!this.view) {
      if (this.early.length < 100) this.early.push(event);
      return Promise.resolve();
    }
    const view = this.view;
    const payload: NotificationPayload = {
      event: event.event,
      time: new Date(event.time ?? this.clock.now()).toISOString(),
      project: event.project ?? null,
      environment: event.environment ?? null,
      service: event.service ?? null,
      revision: event.revision ?? null,
      imageDigest: event.imageDigest ?? null,
      commit: event.commit ?? view.revision ?? null,
      outcome: outcomeOf(event.event),
      duration: event.duration ?? null,
      message: this.options.redactor.redact(event.message),
    };
    const rows = [...view.receivers.values()]
      .filter((r) => listensTo(r, event.event) && concerns(r, event))
      .map((r) => ({ dedupeKey: `${event.dedupeKey}|${r.id}`, receiver: r.id, event: event.event, payload: JSON.stringify(payload) }));
    if (rows.length === 0) return Promise.resolve();
    return this.write(async () => {
      const ids = await this.options.store.notifications.enqueue(rows, this.clock.now());
      for (const id of ids) this.queued.add(id);
      if (ids.length > 0) this.delivery.kick();
    });
  }

  /** Starts sending (the daemon). */
  start(): void {
    this.delivery.start();
  }

  /** One-shot commands: writes what is queued and tries once each row this process queued (a daemon sends the others); what fails stays for the daemon's retries. */
  async sendOnce(): Promise<void> {
    await this.flush();
    if (this.queued.size > 0) await this.delivery.deliverDue([...this.queued]);
  }

  /** Waits for queued writes and a delivery round in flight; pending rows stay for the next start. */
  async stop(): Promise<void> {
    await this.flush();
    await this.delivery.stop();
  }

  /** Resolves when every row queued so far is written (a rollout's row is queued by a write of its own). */
  async flush(): Promise<void> {
    for (let chain = this.chain; ; chain = this.chain) {
      await chain;
      if (chain === this.chain) return;
    }
  }

  desiredChanged(state: DesiredState, model: DesiredModel): void {
    const { daemonEnv, hostPaths } = this.options;
    this.model = model;
    for (const [name, environment] of model.environments) this.projects.set(name, environment.project);
    this.view = { receivers: declaredReceivers(state.resources), secrets: () => new ReceiverSecrets(state.dir, daemonEnv ?? process.env, hostPaths, this.options.ageKeys), revision: state.revision?.commit };
    for (const event of this.early.splice(0)) void this.notify(event);
    // Once per distinct error of a commit: a restart, or a reload of the same broken file, sends nothing more.
    for (const error of state.errors) {
      const digest = createHash("sha256").update(`${error.file}\n${error.message}\n${state.revision?.commit ?? ""}`).digest("hex").slice(0, 24);
      void this.notify({ event: "manifest.invalid", message: error.message, dedupeKey: `manifest.invalid:${digest}` });
    }
    if (!this.recovered) {
      this.recovered = true;
      this.write(() => this.recoverEnded());
    }
    this.delivery.kick();
  }

  /** Queues rollouts of the last 24 h that ended without their notification queued (a crash in between): nothing is lost, nothing told twice. */
  private async recoverEnded(): Promise<void> {
    for (const row of await this.options.store.notifications.endedWithoutNotification(this.clock.now() - 86_400_000)) {
      const ended = endedOfRow(row);
      if (ended) this.notifyRollout(ended, row);
    }
  }

  /** A rollout that ended: rolled back, failed or succeeded, with its row's commit, digest and duration. */
  rolloutChanged(rollout: RolloutReport): void {
    const ended = endedOfReport(rollout);
    if (!ended) return; // running, or superseded (a newer revision, a removed Service, a suspended Environment): no failure
    const id = ended.deploymentId;
    this.write(async () => this.notifyRollout(ended, id === undefined ? undefined : await this.options.store.deployments.get(id)));
  }

  /** Queues a rollout's end, with its row's commit, digest and duration. */
  private notifyRollout(ended: EndedRollout, row: OutboxDeployment | undefined): void {
    const at = row?.completedAt ?? this.clock.now();
    // Keyed on the deployments row: the same rollout's outcome reported again (a restart) is one notification.
    const dedupeKey = ended.deploymentId === undefined ? `rollout:${ended.key}:${ended.revision}:${ended.outcome}:${at}` : `deployment:${ended.deploymentId}:${ended.outcome}`;
    const where = this.whereIs(ended.key);
    if (where.project === undefined) return this.options.log.info("notification not queued: no manifests ever named the environment", { resource: ended.key, outcome: ended.outcome });
    void this.notify({ ...where, event: rolloutEventName(ended.outcome), revision: ended.revision, commit: row?.commit ?? this.model?.revision, imageDigest: row?.imageDigest ?? undefined, duration: row ? (at - row.startedAt) / 1000 : undefined, message: rolloutMessage(ended), dedupeKey, time: at });
  }

  /** Drift that a pass repaired (changes made, no error). */
  reconciled(outcome: ReconcileOutcome): void {
    if (!outcome.drift || outcome.error || outcome.changes.length === 0) return;
    const summary = outcome.changes.map((c) => `${c.path}: ${c.observed} -> ${c.desired}`).join("; ");
    const where = outcome.kind === "Service" ? this.whereIs(outcome.key) : this.environmentWhere(outcome.name);
    const time = this.clock.now();
    void this.notify({ ...where, event: "drift.repaired", revision: outcome.specHash, message: `Docker differed from the converged spec and was repaired: ${summary}`, dedupeKey: driftDedupeKey(outcome, time), time });
  }

  /** Project, environment and service of a `Service/<environment>/<service>` key, from the model when it has it. */
  private whereIs(key: string): { project?: string; environment?: string; service?: string } {
    const service = this.model?.services.get(key);
    if (service) return { project: service.project, environment: service.environment, service: service.service };
    const [environment, name] = key.slice("Service/".length).split("/");
    return { ...this.environmentWhere(environment!), service: name };
  }

  private environmentWhere(environment: string): { project?: string; environment: string } {
    return { project: this.model?.environments.get(environment)?.project ?? this.projects.get(environment), environment };
  }

  /** Queues a write behind the previous ones; a failure is logged (the outcome's notification is lost), never thrown. */
  private write(fn: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(fn).catch((error: unknown) => {
      this.options.log.error("notification not queued", { error: this.options.redactor.redact(error instanceof Error ? error.message : String(error)) });
    });
    return this.chain;
  }
}
