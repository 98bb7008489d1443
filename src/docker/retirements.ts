/** The two engine calls a retirement makes; the driver passes its own (this module knows nothing else of it). */
interface RetireCalls {
  stopNow(id: string, graceSeconds: number | undefined, reason: string): Promise<void>;
  removeContainer(id: string, reason: string): Promise<void>;
}

interface Retirement {
  remove: boolean;
  done: Promise<void>;
}

/**
 * Containers being stopped in the background, at most once each: a rollout
 * takes an old container out of its service's name and goes on while the
 * container's process gets its full stop grace period. A failed stop is
 * forgotten, so the next pass that still sees the container running asks again.
 */
export class Retirements {
  private readonly inFlight = new Map<string, Retirement>();

  constructor(private readonly driver: RetireCalls) {}

  retire(id: string, options: { graceSeconds?: number; remove: boolean }, reason: string): void {
    const existing = this.inFlight.get(id);
    if (existing) {
      existing.remove ||= options.remove;
      return;
    }
    const retirement: Retirement = { remove: options.remove, done: Promise.resolve() };
    retirement.done = (async () => {
      try {
        await this.driver.stopNow(id, options.graceSeconds, reason);
        if (retirement.remove) await this.driver.removeContainer(id, reason);
      } catch {
        // Reported through the driver's call hooks (audit, metrics); the next pass sees the container and retires it again.
      } finally {
        this.inFlight.delete(id);
      }
    })();
    this.inFlight.set(id, retirement);
  }

  /** Whether `id` is being stopped in the background now. */
  has(id: string): boolean {
    return this.inFlight.has(id);
  }

  /** Waits for a background stop of `id`, if one runs; true when there was one. */
  async settled(id: string): Promise<boolean> {
    const retirement = this.inFlight.get(id);
    if (!retirement) return false;
    await retirement.done;
    return true;
  }

  /** Waits for every background stop: a one-shot command does not exit with containers half-stopped. */
  async all(): Promise<void> {
    await Promise.all([...this.inFlight.values()].map((r) => r.done));
  }
}
