import type { Logger } from "../log/logger.ts";
import type { NotificationEventName } from "../manifests/types.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Store } from "../store/index.ts";
import type { OutboxRow } from "../store/notification-repository.ts";
import { formatBody, signatureOf, SIGNATURE_HEADER, type NotificationPayload } from "./payload.ts";
import { listensTo, type DeclaredReceiver, type ReceiverSecrets } from "./receivers.ts";

/** Time, and timers, as the delivery loop sees them: the system's in production, a fake one in tests. */
export interface DeliveryClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Receivers as the manifests now declare them, and how to read their secrets; undefined until manifests loaded. */
export interface ReceiverView {
  receivers: ReadonlyMap<string, DeclaredReceiver>;
  secrets(): ReceiverSecrets;
}

export interface DeliveryOptions {
  store: Pick<Store, "notifications">;
  clock: DeliveryClock;
  log: Logger;
  metrics: Metrics;
  fetch: typeof fetch;
  receivers: () => ReceiverView | undefined;
  /** Masks secret values in a failure's text before it is stored or logged. */
  redact: (text: string) => string;
  /** First retry delay, doubled per attempt up to maxBackoffMs (defaults 1 s and 10 min). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long one request may take (default 10 s). */
  timeoutMs?: number;
  /** Longest sleep between looks at the outbox, so rows another process wrote (berth apply) are found (default 30 s). */
  pollMs?: number;
}

/** What one round did, for tests and logs. */
export interface RoundResult {
  delivered: number;
  failed: number;
  dropped: number;
}

/** Delay before attempt `attempts + 1`: initial × 2^(attempts − 1), capped. */
export function backoffMs(attempts: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempts - 1));
}

/**
 * Sends the outbox's pending rows to their receivers: delivered rows are
 * marked, failed ones retried with capped exponential backoff, rows of
 * receivers no longer declared dropped with the reason. A failure is logged
 * once per receiver and distinct cause, and its recovery once; retries of the
 * same cause are counted, not logged. Everything it needs is in the store, so
 * a restarted daemon resumes where the last one stopped.
 */
export class DeliveryLoop {
  private timer?: unknown;
  private round?: Promise<RoundResult>;
  private running = false;
  /** The cause each failing receiver last reported. */
  private readonly failing = new Map<string, string>();

  constructor(private readonly options: DeliveryOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops scheduling and waits for a round in flight. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.round?.catch(() => undefined);
  }

  /** New rows were written: look now rather than at the next scheduled time. */
  kick(): void {
    if (this.running && !this.round) this.schedule(0);
  }

  /** One pass over the rows due now. */
  deliverDue(): Promise<RoundResult> {
    this.round ??= this.deliverRows().finally(() => (this.round = undefined));
    return this.round;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      void this.deliverDue()
        .catch((error: unknown) => {
          this.options.log.warn("notification outbox unreadable", { error: this.options.redact(String(error)) });
        })
        .then(() => this.scheduleNext());
    }, ms);
  }

  private async scheduleNext(): Promise<void> {
    const poll = this.options.pollMs ?? 30_000;
    const next = await this.options.store.notifications.nextDue().catch(() => undefined);
    const wait = next === undefined ? poll : Math.max(0, next - this.options.clock.now());
    this.schedule(Math.min(poll, wait));
  }

  private async deliverRows(): Promise<RoundResult> {
    const result: RoundResult = { delivered: 0, failed: 0, dropped: 0 };
    const view = this.options.receivers();
    if (!view) return result; // no manifests yet: which receivers exist is unknown, so nothing is dropped either
    const { notifications } = this.options.store;
    const rows = await notifications.due(this.options.clock.now());
    if (rows.length === 0) return result;
    const secrets = view.secrets();
    for (const row of rows) {
      const receiver = view.receivers.get(row.receiver);
      const reason = !receiver ? `receiver ${row.receiver} is no longer declared in the manifests` : !listensTo(receiver, row.event) ? `receiver ${row.receiver} no longer listens to ${row.event}` : undefined;
      if (reason) {
        await notifications.dropped([row.id], reason, this.options.clock.now());
        this.options.metrics.notifications.inc({ outcome: "dropped" });
        this.options.log.info("notification dropped", { receiver: row.receiver, event: row.event, reason });
        result.dropped++;
        continue;
      }
      const failure = await this.send(row, receiver!, secrets);
      const attempts = row.attempts + 1;
      if (failure === undefined) {
        await notifications.delivered(row.id, attempts, this.options.clock.now());
        this.options.metrics.notifications.inc({ outcome: "delivered" });
        this.recovered(row.receiver, attempts);
        result.delivered++;
      } else {
        const delay = backoffMs(attempts, this.options.initialBackoffMs ?? 1000, this.options.maxBackoffMs ?? 10 * 60_000);
        await notifications.failed(row.id, attempts, failure, this.options.clock.now() + delay);
        this.options.metrics.notifications.inc({ outcome: "failed" });
        this.failed(row.receiver, failure, delay);
        result.failed++;
      }
    }
    return result;
  }

  /** Sends one row; the failure's cause in words (no URL, no secret), or undefined when the receiver took it. */
  private async send(row: OutboxRow, receiver: DeclaredReceiver, secrets: ReceiverSecrets): Promise<string | undefined> {
    let target: { url: string; signingSecret?: string };
    try {
      target = await secrets.resolveReady(receiver);
    } catch (error) {
      return this.options.redact(error instanceof Error ? error.message : String(error));
    }
    const body = formatBody(JSON.parse(row.payload) as NotificationPayload, receiver.spec.format ?? "json");
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "berth", "x-berth-event": row.event as NotificationEventName, "x-berth-delivery": String(row.id) };
    if (target.signingSecret) headers[SIGNATURE_HEADER] = signatureOf(body, target.signingSecret);
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    try {
      const response = await this.options.fetch(target.url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return undefined;
      return `the receiver answered HTTP ${response.status}; expected a 2xx status`;
    } catch (error) {
      return this.options.redact(describeRequestError(error, timeoutMs));
    }
  }

  private failed(receiver: string, cause: string, retryInMs: number): void {
    if (this.failing.get(receiver) === cause) return;
    this.failing.set(receiver, cause);
    this.options.log.warn("notification delivery failing", { receiver, error: cause, retryInSeconds: Math.round(retryInMs / 1000) });
  }

  private recovered(receiver: string, attempts: number): void {
    if (!this.failing.delete(receiver)) return;
    this.options.log.info("notification delivery recovered", { receiver, attempts });
  }
}

/** A request error in words: the network cause's code when there is one (the URL stays out: it is a secret). */
function describeRequestError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return `the receiver did not answer within ${timeoutMs / 1000}s`;
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  if (cause?.code) return `the request failed: ${cause.code}`;
  return `the request failed: ${error instanceof Error ? error.message : String(error)}`;
}
