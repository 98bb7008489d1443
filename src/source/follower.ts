import type { Logger } from "../log/logger.ts";
import { publicUrl } from "./git-command.ts";
import type { CommitInfo, GitMirror } from "./git-mirror.ts";
import type { SignatureVerifier, Verdict } from "./signatures.ts";

export interface SourceCondition {
  type: "SourceReady" | "SourceVerified";
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: number;
}

/** What the source is following and what it has in force, as status, the store and metrics show it. */
export interface SourceStatus {
  name: string;
  /** Without credentials. */
  url: string;
  ref: string;
  /** The commit whose manifests are in force: the last good one. */
  commit?: string;
  subject?: string;
  /** The newest commit fetched, in force or not. */
  fetchedCommit?: string;
  fetchedAt?: number;
  /** true verified, false refused, undefined when signatures are not checked. */
  verified?: boolean;
  signer?: string;
  conditions: SourceCondition[];
}

/** A problem worth telling people about once: an event, a log line and a notification per distinct cause. */
export interface SourceProblem {
  event: "source.failed" | "source.unverified";
  reason: string;
  message: string;
  commit?: string;
}

/** What the follower reports; the recorder (store, events, metrics) and the notifier listen. Fire-and-forget. */
export interface SourceObserver {
  sourceChanged?(status: SourceStatus): void;
  sourceProblem?(status: SourceStatus, problem: SourceProblem): void;
  /** A new commit is in force (its manifests are being loaded). */
  sourceCommitted?(status: SourceStatus, commit: CommitInfo): void;
}

/** Several observers as one: each hears everything, in order. */
export function fanOutSource(...observers: SourceObserver[]): SourceObserver {
  return {
    sourceChanged: (status) => observers.forEach((o) => o.sourceChanged?.(status)),
    sourceProblem: (status, problem) => observers.forEach((o) => o.sourceProblem?.(status, problem)),
    sourceCommitted: (status, commit) => observers.forEach((o) => o.sourceCommitted?.(status, commit)),
  };
}

export interface FollowerOptions {
  mirror: GitMirror;
  verifier?: SignatureVerifier;
  intervalMs: number;
  log: Logger;
  observer?: SourceObserver;
  /** Called after a new commit's snapshot became `current`: loads it. */
  onCommit: (commit: CommitInfo) => Promise<void>;
  /**
   * The conditions an earlier run recorded for this source: a condition that
   * is still what it was keeps its transition time, so an outage that spans a
   * restart is one outage (and is notified once).
   */
  recorded?: readonly SourceCondition[];
  /** Runs the snapshot swap alone: no manifests load reads `current` while it changes. */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  now?: () => number;
}

const FIRST_RETRY_MS = 5_000;

/**
 * Polls one git ref (and fetches at once when a webhook asks), verifies the
 * new commit's signature when asked to, and puts it in force. Failures keep
 * the last good commit, set SourceReady or SourceVerified to False, are
 * reported once per distinct cause and retried with backoff up to the interval.
 */
export class GitFollower {
  private readonly now: () => number;
  private status: SourceStatus;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private failures = 0;
  private lastProblem?: string;
  /** The commit last refused by signature, with the trust it was refused under: reported once, checked again when the trust changes. */
  private refused?: string;
  private readonly abort = new AbortController();

  constructor(private readonly options: FollowerOptions) {
    this.now = options.now ?? Date.now;
    const { mirror, verifier } = options;
    this.status = {
      name: "git",
      url: publicUrl(mirror.spec.url),
      ref: mirror.refName,
      conditions: (options.recorded ?? []).filter((c) => c.type === "SourceReady" || (verifier && c.type === "SourceVerified")).map((c) => ({ ...c })),
    };
    const has = (type: SourceCondition["type"]) => this.status.conditions.some((c) => c.type === type);
    if (!has("SourceReady")) this.setCondition("SourceReady", "Unknown", "Starting", "not fetched yet");
    if (verifier && !has("SourceVerified")) this.setCondition("SourceVerified", "Unknown", "Starting", `commits must be signed by a key in the ${verifier.kind === "ssh" ? "allowed signers" : "GPG keyring"}`);
  }

  get current(): Readonly<SourceStatus> {
    return this.status;
  }

  /**
   * Puts a commit in force before anything reconciles: the one an earlier run
   * left in force, else the first fetch. Resolves false when neither exists
   * (the reason is in the status); `follow` keeps trying in the background.
   */
  async init(): Promise<boolean> {
    const { mirror, verifier } = this.options;
    const cached = await mirror.inForce();
    // What an earlier run left is checked again under today's trust: it may have run without --verify-signatures.
    const verdict = cached && verifier ? await verifier.verify(mirror.gitDir, cached).catch(() => undefined) : undefined;
    if (cached && (!verifier || verdict?.verified)) {
      const info = await mirror.describe(cached).catch(() => ({ commit: cached, subject: "", committedAt: 0 }));
      Object.assign(this.status, { commit: cached, subject: info.subject, verified: verdict?.verified, signer: verdict?.signer });
    }
    await this.sync("start");
    return this.status.commit !== undefined;
  }

  /** Polls from now on, every interval (sooner after a failure, backing off up to the interval). */
  follow(): void {
    this.schedule();
  }

  /** Fetches now (a webhook); coalesced with one already running. */
  trigger(reason: string): Promise<void> {
    clearTimeout(this.timer);
    return this.sync(reason).finally(() => this.schedule());
  }

  /** Stops polling and cuts a fetch in flight short. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    return this.running ?? Promise.resolve();
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay = this.failures === 0 ? this.options.intervalMs : Math.min(this.options.intervalMs, FIRST_RETRY_MS * 2 ** (this.failures - 1));
    this.timer = setTimeout(() => void this.sync("poll").finally(() => this.schedule()), delay);
    this.timer.unref();
  }

  private sync(reason: string): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.syncOnce(reason);
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async syncOnce(reason: string): Promise<void> {
    const { mirror, verifier, log } = this.options;
    let fetched: string;
    try {
      fetched = await mirror.fetch(this.abort.signal);
    } catch (error) {
      if (this.stopped) return;
      return this.fail("FetchFailed", `cannot fetch ${this.status.ref} from ${this.status.url}: ${(error as Error).message}`);
    }
    Object.assign(this.status, { fetchedCommit: fetched, fetchedAt: this.now() });
    if (fetched === this.status.commit) {
      // Back at (or still at) the commit in force, which was verified before it was put in force.
      this.refused = undefined;
      if (verifier) this.setCondition("SourceVerified", "True", "Verified", `commit ${fetched.slice(0, 12)} signed by ${this.status.signer ?? "an allowed key"}`);
      return this.succeed();
    }
    const refusal = `${fetched}|${verifier?.trustDigest() ?? ""}`;
    if (refusal === this.refused) return this.report();
    let verdict: Verdict | undefined;
    if (verifier) {
      try {
        verdict = await verifier.verify(mirror.gitDir, fetched);
      } catch (error) {
        return this.fail("VerifyFailed", `cannot verify the signature of ${fetched.slice(0, 12)}: ${(error as Error).message}`);
      }
      if (!verdict.verified) {
        this.refused = refusal;
        return this.refuse(fetched, verdict);
      }
    }
    let info: CommitInfo;
    try {
      info = await mirror.describe(fetched);
      const swap = () => mirror.activate(fetched);
      await (this.options.exclusive ? this.options.exclusive(swap) : swap());
    } catch (error) {
      return this.fail("CheckoutFailed", `cannot check out ${fetched.slice(0, 12)}: ${(error as Error).message}`);
    }
    this.refused = undefined;
    Object.assign(this.status, { commit: fetched, subject: info.subject, verified: verdict?.verified, signer: verdict?.signer });
    if (verdict) this.setCondition("SourceVerified", "True", "Verified", `commit ${fetched.slice(0, 12)} signed by ${verdict.signer ?? "an allowed key"}`);
    log.info("source commit in force", { url: this.status.url, ref: this.status.ref, commit: fetched, subject: info.subject, signer: verdict?.signer, trigger: reason });
    this.options.observer?.sourceCommitted?.(this.status, info);
    await this.options.onCommit(info);
    this.succeed();
  }

  private succeed(): void {
    this.failures = 0;
    this.lastProblem = undefined;
    const at = this.status.commit ? ` at ${this.status.commit.slice(0, 12)}` : "";
    this.setCondition("SourceReady", "True", "Fetched", `following ${this.status.ref}${at}`);
    this.report();
  }

  private fail(reason: string, message: string): void {
    this.failures++;
    const kept = this.status.commit ? `; commit ${this.status.commit.slice(0, 12)} stays in force` : "; nothing is in force yet";
    this.setCondition("SourceReady", "False", reason, `${message}${kept}`);
    this.problem({ event: "source.failed", reason, message: `${message}${kept}` });
  }

  private refuse(commit: string, verdict: Verdict): void {
    const kept = this.status.commit ? `; commit ${this.status.commit.slice(0, 12)} stays in force` : "; nothing is in force yet";
    const message = `commit ${commit.slice(0, 12)} is not applied: ${verdict.reason}${kept}`;
    this.setCondition("SourceVerified", "False", "Unverified", message);
    // Fetching worked; only this commit is refused.
    this.setCondition("SourceReady", "True", "Fetched", `following ${this.status.ref}; newest commit ${commit.slice(0, 12)} refused`);
    this.problem({ event: "source.unverified", reason: "Unverified", message, commit });
  }

  private problem(problem: SourceProblem): void {
    const cause = `${problem.reason}|${problem.message}`;
    if (cause !== this.lastProblem) {
      this.lastProblem = cause;
      this.options.log.warn(problem.event === "source.failed" ? "source failed" : "source commit refused", { url: this.status.url, ref: this.status.ref, reason: problem.reason, error: problem.message });
      this.options.observer?.sourceProblem?.(this.status, problem);
    }
    this.report();
  }

  private report(): void {
    this.options.observer?.sourceChanged?.({ ...this.status, conditions: this.status.conditions.map((c) => ({ ...c })) });
  }

  private setCondition(type: SourceCondition["type"], status: SourceCondition["status"], reason: string, message: string): void {
    const previous = this.status.conditions.find((c) => c.type === type);
    const lastTransitionTime = previous && previous.status === status ? previous.lastTransitionTime : this.now();
    this.status.conditions = [...this.status.conditions.filter((c) => c.type !== type), { type, status, reason, message, lastTransitionTime }];
  }
}
