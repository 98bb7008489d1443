import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log/logger.ts";
import type { Fence, LeaseRepository, LeaseRow } from "../store/lease-repository.ts";

export type Leadership = "follower" | "leader" | "deposed";

export interface ElectorOptions {
  leases: Pick<LeaseRepository, "acquire" | "release" | "get">;
  /** The lease's name (one per set of daemons sharing a database). */
  name: string;
  /** Who this process is: unique per start, so a restarted daemon is a new holder with a new term. */
  holder: string;
  /** The HTTP address followers point clients at while this daemon leads. */
  address?: string;
  /** How long a lease lasts without renewal; the leader renews every third of it. */
  durationMs: number;
  log: Logger;
  /** Told each change of leadership: the `berth_leader` gauge. */
  onChange?: (leadership: Leadership, term: number | undefined) => void;
  /** A monotonic clock in milliseconds (never the wall clock, which may jump). */
  monotonic?: () => number;
}

/** Why a leader stopped leading; the daemon exits with it so that nothing it started acts on. */
export class LeadershipLostError extends Error {
  constructor(reason: string) {
    super(`leadership lost: ${reason}; this daemon stops acting and exits so that only the new leader acts (restart it to follow)`);
    this.name = "LeadershipLostError";
  }
}

/**
 * Elects one leader among the daemons sharing a database, as Kubernetes
 * controllers do with a Lease: a follower tries to take the lease every
 * retry period and wins only once it is free or expired (by the database's
 * clock); the leader renews it every third of its duration and steps down
 * when two thirds have passed since its last confirmed renewal, well before
 * any follower may take it, or as soon as it learns another holder has it.
 */
export class Elector {
  private state: Leadership = "follower";
  private heldTerm: number | undefined;
  private seen: LeaseRow | undefined;
  private readonly stopping = new AbortController();
  private renewing: Promise<void> | undefined;
  /** Monotonic time the last renewal was asked that the database confirmed. */
  private confirmed = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private lostWith: ((error: LeadershipLostError) => void) | undefined;
  /** Settles once this daemon, having led, is deposed. */
  readonly lost: Promise<LeadershipLostError>;
  private readonly monotonic: () => number;

  constructor(private readonly options: ElectorOptions) {
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.lost = new Promise((resolve) => (this.lostWith = resolve));
  }

  get leadership(): Leadership {
    return this.state;
  }

  get term(): number | undefined {
    return this.heldTerm;
  }

  /** The lease as last read while following: who leads, at which address, with which term. */
  get leader(): LeaseRow | undefined {
    return this.seen;
  }

  get renewEveryMs(): number {
    return Math.max(1, Math.floor(this.options.durationMs / 3));
  }

  /** How long a leader may go without a confirmed renewal before it steps down. */
  get renewDeadlineMs(): number {
    return Math.floor((this.options.durationMs * 2) / 3);
  }

  /** How often a follower tries: at most every second, so takeover comes at most a second after expiry. */
  get retryEveryMs(): number {
    return Math.min(this.renewEveryMs, 1_000);
  }

  /** The writer's proof of leadership; undefined unless leading. */
  fence(): Fence | undefined {
    if (this.state !== "leader" || this.heldTerm === undefined) return undefined;
    return { name: this.options.name, holder: this.options.holder, term: this.heldTerm, rejected: (what) => this.depose(`${what} was refused by the store`) };
  }

  /**
   * Follows until this daemon takes the lease; resolves true once it leads
   * (and renews from then on), false when `signal` aborts first. A store
   * that cannot be reached is reported once per distinct cause.
   */
  async campaign(signal?: AbortSignal): Promise<boolean> {
    const { log, name, holder } = this.options;
    let lastCause: string | undefined;
    let followed: string | undefined;
    for (;;) {
      if (signal?.aborted || this.stopping.signal.aborted) return false;
      try {
        const term = await this.options.leases.acquire(name, holder, this.options.durationMs, this.options.address);
        if (term !== undefined && (signal?.aborted || this.stopping.signal.aborted)) {
          // Won while stopping: handed straight back, not held until it expires.
          await this.options.leases.release(name, holder, term).catch(() => undefined);
          return false;
        }
        if (term !== undefined) {
          this.lead(term);
          return true;
        }
        const current = await this.options.leases.get(name);
        this.seen = current;
        if (current && current.holder !== followed) {
          followed = current.holder;
          log.info("following", { leader: current.holder, address: current.address ?? undefined, term: current.term });
        }
        lastCause = undefined;
      } catch (error) {
        const cause = error instanceof Error ? error.message : String(error);
        if (cause !== lastCause) log.warn("lease unreachable; still following", { lease: name, error });
        lastCause = cause;
      }
      try {
        await sleep(this.retryEveryMs, undefined, { signal: signal ? AbortSignal.any([signal, this.stopping.signal]) : this.stopping.signal });
      } catch {
        return false;
      }
    }
  }

  /** Hands the lease over at once (it expires now), when this daemon still leads; stops renewing. */
  async release(): Promise<void> {
    const wasLeading = this.state === "leader" ? this.heldTerm : undefined;
    this.stopping.abort();
    clearTimeout(this.watchdog);
    await this.renewing;
    if (wasLeading === undefined || this.state !== "leader") return;
    await this.options.leases.release(this.options.name, this.options.holder, wasLeading).catch((error: unknown) => this.options.log.warn("lease not released; a follower takes over once it expires", { error }));
  }

  private lead(term: number): void {
    this.state = "leader";
    this.heldTerm = term;
    this.options.log.info("leading", { lease: this.options.name, holder: this.options.holder, term });
    this.options.onChange?.("leader", term);
    this.renewing = this.renewLoop();
  }

  /**
   * Whether this daemon may act now: it leads, and its last confirmed renewal
   * is younger than the deadline. Synchronous, so that every mutating Docker
   * call can ask it first: a process resumed after a long pause (SIGSTOP, a
   * frozen VM) is refused before any timer of its own has run.
   */
  mayAct(): boolean {
    return this.state === "leader" && this.monotonic() - this.confirmed <= this.renewDeadlineMs;
  }

  /** Deposes this daemon once the deadline passes without a confirmed renewal, even while a renewal hangs. */
  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    if (this.state !== "leader" || this.stopping.signal.aborted) return;
    this.watchdog = setTimeout(() => this.depose(`no renewal confirmed for ${Math.round(this.monotonic() - this.confirmed)} ms (the deadline is ${this.renewDeadlineMs} ms of a ${this.options.durationMs} ms lease)`), Math.max(0, this.confirmed + this.renewDeadlineMs - this.monotonic()));
  }

  private async renewLoop(): Promise<void> {
    const { leases, name, holder, durationMs, address, log } = this.options;
    this.confirmed = this.monotonic();
    this.armWatchdog();
    let lastCause: string | undefined;
    while (this.state === "leader" && !this.stopping.signal.aborted) {
      try {
        await sleep(this.renewEveryMs, undefined, { signal: this.stopping.signal });
      } catch {
        return;
      }
      const asked = this.monotonic();
      try {
        const term = await leases.acquire(name, holder, durationMs, address);
        if (term !== this.heldTerm) return this.depose(term === undefined ? "another daemon holds the lease" : `the lease was renewed as term ${term}, not ${this.heldTerm}`);
        // Counted from when the renewal was asked: the lease runs from the database's time of the write, which is later.
        if (this.state !== "leader") return;
        this.confirmed = asked;
        this.armWatchdog();
        lastCause = undefined;
      } catch (error) {
        const cause = error instanceof Error ? error.message : String(error);
        if (cause !== lastCause) log.warn("lease renewal failed", { lease: name, error, stepsDownInMs: Math.max(0, Math.round(this.confirmed + this.renewDeadlineMs - this.monotonic())) });
        lastCause = cause;
      }
    }
  }

  private depose(reason: string): void {
    if (this.state !== "leader") return;
    clearTimeout(this.watchdog);
    this.state = "deposed";
    this.options.onChange?.("deposed", this.heldTerm);
    this.lostWith?.(new LeadershipLostError(reason));
  }
}
