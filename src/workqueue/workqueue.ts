/** Clock the queue uses for delays and backoff; tests pass a simulated one. */
export interface QueueClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: QueueClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What a queue reports, for metrics (controller-runtime names their counterparts). */
export interface QueueObserver {
  onAdd?(key: string): void;
  onRetry?(key: string): void;
  onDepth?(depth: number): void;
  /** Time a key waited between being added and being picked up. */
  onQueued?(key: string, waitedMs: number): void;
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/**
 * A rate-limited, de-duplicating work queue in the style of client-go: a key is
 * in the queue at most once, is never handed to two workers at once, and a key
 * added while it is being processed is queued again when processing ends.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(
    private readonly clock: QueueClock = systemClock,
    private readonly backoff: BackoffOptions = { baseMs: 5, maxMs: 5 * 60_000 },
    private readonly observer: QueueObserver = {},
  ) {}

  /** Queues a key now; a no-op when it is already queued. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.observer.onAdd?.(key);
    this.dirty.add(key);
    this.addedAt.set(key, this.clock.now());
    if (this.processing.has(key)) return; // re-queued by done()
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.observer.onQueued?.(key, 0);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.observer.onDepth?.(this.queue.length);
  }

  /** Queues a key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.clock.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    this.timers.set(key, { at, handle });
  }

  /** Queues a key after its per-key exponential backoff; each call doubles the next delay. */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delay = Math.min(this.backoff.baseMs * 2 ** failures, this.backoff.maxMs);
    this.observer.onRetry?.(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets a key's backoff after a success. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Number of consecutive failures recorded for a key. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves with the next key to process, or undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.observer.onDepth?.(this.queue.length);
      this.observer.onQueued?.(key, this.clock.now() - (this.addedAt.get(key) ?? this.clock.now()));
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks a key processed; if it was added meanwhile, it goes back in the queue. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  /** The keys waiting to be processed now, in order. */
  get waiting(): readonly string[] {
    return this.queue;
  }

  /** Keys waiting to be processed now. */
  get depth(): number {
    return this.queue.length;
  }

  /** True while a key is queued or being processed (delayed keys do not count). */
  get busy(): boolean {
    return this.queue.length > 0 || this.processing.size > 0 || this.dirty.size > 0;
  }

  /** True when nothing is queued, processing, or waiting on a delay. */
  get idle(): boolean {
    return this.queue.length === 0 && this.processing.size === 0 && this.timers.size === 0 && this.dirty.size === 0;
  }

  /** Keys whose delayed re-queue is pending. */
  get delayed(): string[] {
    return [...this.timers.keys()];
  }

  /** Stops handing out keys; waiting workers get undefined. Pending delays are dropped. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
