import { MASK, type Logger } from "../log/logger.ts";
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
  /** Registers a value read at delivery (a receiver's URL or key) to be masked wherever Berth writes text. */
  addSecret: (value: string) => void;
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

type Target = { url: string; signingSecret?: string };

/**
 * Sends the outbox's pending rows to their receivers: delivered rows are
 * marked, failed ones retried with capped exponential backoff, rows of
 * receivers no longer declared dropped with the reason. Rows are claimed
 * before they are sent, so two processes never send the same row; receivers
 * are served side by side, and a receiver that fails has its other rows of the
 * round put off with its backoff. A failure is logged once per receiver and
 * distinct cause, and its recovery once. Everything it needs is in the store,
 * so a restarted daemon resumes where the last one stopped.
 */
export class DeliveryLoop {
  private timer?: unknown;
  private round?: Promise<RoundResult>;
  private running = false;
  /** The cause each failing receiver last reported. */
  private readonly failing = new Map<string, string>();
  /** Outcomes known but not saved (the store refused the write): their rows are never sent again while the write is retried. */
  private readonly unsaved = new Map<number, () => Promise<unknown>>();
  /** Rounds in a row in which the store failed: the next look waits their backoff. */
  private storeErrors = 0;
  private troubled = false;
  private abort = new AbortController();

  constructor(private readonly options: DeliveryOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.schedule(0);
  }

  /** Stops scheduling, cuts requests in flight short (their rows stay pending) and waits for the round. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.round?.catch(() => undefined);
  }

  /** New rows were written: look now rather than at the next scheduled time. */
  kick(): void {
    if (this.running && !this.round && this.storeErrors === 0) this.schedule(0);
  }

  /** One pass over the rows due now; only over `ids` when given (`berth apply` sends what it queued itself). */
  deliverDue(ids?: readonly number[]): Promise<RoundResult> {
    this.round ??= this.deliverRows(ids).finally(() => (this.round = undefined));
    return this.round;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.troubled = false;
      void this.deliverDue()
        .catch((error: unknown) => {
          this.troubled = true;
          this.options.log.warn("notification outbox unreadable", { error: this.options.redact(String(error)) });
        })
        .then(() => this.scheduleNext());
    }, ms);
  }

  /** Sleeps until the next row is due, at most pollMs; after a round in which the store failed, at least pollMs and the backoff of such rounds in a row. */
  private async scheduleNext(): Promise<void> {
    const poll = this.options.pollMs ?? 30_000;
    if (this.troubled) {
      this.storeErrors++;
      return this.schedule(Math.max(poll, backoffMs(this.storeErrors, this.options.initialBackoffMs ?? 1000, this.options.maxBackoffMs ?? 10 * 60_000)));
    }
    this.storeErrors = 0;
    const next = await this.options.store.notifications.nextDue().catch(() => undefined);
    const wait = next === undefined ? poll : Math.max(0, next - this.options.clock.now());
    this.schedule(Math.min(poll, wait));
  }

  private async deliverRows(ids?: readonly number[]): Promise<RoundResult> {
    const result: RoundResult = { delivered: 0, failed: 0, dropped: 0 };
    const view = this.options.receivers();
    if (!view) return result; // no manifests yet: which receivers exist is unknown, so nothing is dropped either
    for (const [id, write] of [...this.unsaved]) await this.save(id, write);
    const { notifications } = this.options.store;
    const now = this.options.clock.now();
    const rows = (await notifications.due(now, 50, ids)).filter((row) => !this.unsaved.has(row.id));
    const byReceiver = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const receiver = view.receivers.get(row.receiver);
      const reason = !receiver ? `receiver ${row.receiver} is no longer declared in the manifests` : !listensTo(receiver, row.event) ? `receiver ${row.receiver} no longer listens to ${row.event}` : undefined;
      if (!reason) {
        byReceiver.set(row.receiver, [...(byReceiver.get(row.receiver) ?? []), row]);
        continue;
      }
      await this.save(row.id, () => notifications.dropped([row.id], reason, now));
      this.options.metrics.notifications.inc({ outcome: "dropped" });
      this.options.log.info("notification dropped", { receiver: row.receiver, event: row.event, reason });
      result.dropped++;
    }
    if (byReceiver.size === 0) return result;
    const secrets = view.secrets();
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    await Promise.all(
      [...byReceiver].map(async ([id, due]) => {
        // Long enough for every row of the receiver to time out; a process that dies leaves them to others after that.
        const claimed = await notifications.claim(due.map((r) => r.id), now + timeoutMs * due.length + 30_000, now);
        if (claimed.length) await this.deliverTo(view.receivers.get(id)!, claimed, secrets, result);
      }),
    );
    return result;
  }

  /** Sends a receiver's claimed rows one after another; after its first failure the rest wait for its backoff. */
  private async deliverTo(receiver: DeclaredReceiver, rows: readonly OutboxRow[], secrets: ReceiverSecrets, result: RoundResult): Promise<void> {
    const { notifications } = this.options.store;
    let target: Target | string;
    try {
      target = await secrets.resolveReady(receiver);
      this.registerSecrets(target);
    } catch (error) {
      target = this.options.redact(error instanceof Error ? error.message : String(error));
    }
    for (const [i, row] of rows.entries()) {
      const failure = typeof target === "string" ? target : await this.send(row, receiver, target);
      const now = this.options.clock.now();
      if (this.abort.signal.aborted && failure !== undefined) {
        await this.save(row.id, () => notifications.deferred(rows.slice(i).map((r) => r.id), now));
        return;
      }
      const attempts = row.attempts + 1;
      if (failure === undefined) {
        await this.save(row.id, () => notifications.delivered(row.id, attempts, now));
        this.options.metrics.notifications.inc({ outcome: "delivered" });
        this.recovered(receiver.id, attempts);
        result.delivered++;
        continue;
      }
      const delay = backoffMs(attempts, this.options.initialBackoffMs ?? 1000, this.options.maxBackoffMs ?? 10 * 60_000);
      await this.save(row.id, () => notifications.failed(row.id, attempts, failure, now + delay));
      this.options.metrics.notifications.inc({ outcome: "failed" });
      this.failed(receiver.id, failure, delay);
      result.failed++;
      const rest = rows.slice(i + 1).map((r) => r.id);
      if (rest.length) await notifications.deferred(rest, now + delay).catch(() => (this.troubled = true)); // unsaved, their claims run out
      return;
    }
  }

  /** Writes a row's outcome; when the store refuses, remembers it (the row is not sent again) and retries the write next round. */
  private async save(id: number, write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
      this.unsaved.delete(id);
    } catch (error) {
      if (!this.unsaved.has(id)) this.options.log.warn("notification outcome not saved; retrying", { delivery: id, error: this.options.redact(error instanceof Error ? error.message : String(error)) });
      this.unsaved.set(id, write);
      this.troubled = true;
    }
  }

  /** The URL, its password and the signing key are masked wherever Berth writes text from now on. */
  private registerSecrets(target: Target): void {
    for (const value of secretParts(target)) this.options.addSecret(value);
  }

  /** Sends one row; the failure's cause in words (no URL, no secret), or undefined when the receiver took it. */
  private async send(row: OutboxRow, receiver: DeclaredReceiver, target: Target): Promise<string | undefined> {
    const body = formatBody(JSON.parse(row.payload) as NotificationPayload, receiver.spec.format ?? "json");
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "berth", "x-berth-event": row.event as NotificationEventName, "x-berth-delivery": String(row.id) };
    if (target.signingSecret) headers[SIGNATURE_HEADER] = signatureOf(body, target.signingSecret);
    // fetch refuses a URL with credentials: they go as Basic authorization instead.
    const url = new URL(target.url);
    if (url.username || url.password) headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    url.username = url.password = "";
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    // One controller for the timeout and stop(), held here: a composed AbortSignal.timeout may be collected before it fires.
    const request = new AbortController();
    const timer = setTimeout(() => request.abort(new DOMException("timed out", "TimeoutError")), timeoutMs);
    const stop = () => request.abort(this.abort.signal.reason);
    this.abort.signal.addEventListener("abort", stop, { once: true });
    try {
      const response = await this.options.fetch(url.href, { method: "POST", headers, body, signal: request.signal, redirect: "error" });
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return undefined;
      return `the receiver answered HTTP ${response.status}; expected a 2xx status`;
    } catch (error) {
      return this.options.redact(maskParts(describeRequestError(error, timeoutMs, this.abort.signal.aborted), [url.href, ...secretParts(target)]));
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener("abort", stop);
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

/** A receiver's secret values: the URL as written and as parsed, its user and password (raw and decoded), the signing key. */
function secretParts(target: Target): string[] {
  const parts = [target.url, target.signingSecret];
  try {
    const url = new URL(target.url);
    parts.push(url.href, url.password, safeDecode(url.password), url.username && url.password ? `${url.username}:${url.password}` : undefined);
  } catch {
    // not a URL: resolve refuses it before a request is made
  }
  return [...new Set(parts.filter((p): p is string => !!p))].sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Replaces each of `parts` (longest first) in `text` with the mask. */
function maskParts(text: string, parts: readonly string[]): string {
  return [...parts].sort((a, b) => b.length - a.length).reduce((out, part) => (part ? out.split(part).join(MASK) : out), text);
}

/** A request error in words: the network cause's code or message when there is one. */
function describeRequestError(error: unknown, timeoutMs: number, stopped: boolean): string {
  if (stopped) return "berth stopped before the receiver answered";
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return `the receiver did not answer within ${timeoutMs / 1000}s`;
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `the request failed: ${cause.code}`;
  const message = error instanceof Error ? error.message : String(error);
  if (cause?.message && message === "fetch failed") return `the request failed: ${cause.message}`;
  return `the request failed: ${message}`;
}
