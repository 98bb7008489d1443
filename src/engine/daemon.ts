import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log/logger.ts";
import { ManifestLoader, type DesiredState } from "../manifests/load.ts";
import { watchManifests, type ManifestWatcher } from "../manifests/watch.ts";
import { GitFollower, type SourceCondition, type SourceObserver } from "../source/follower.ts";
import type { GitMirror } from "../source/git-mirror.ts";
import type { SignatureVerifier } from "../source/signatures.ts";
import { Manager, type ManagerOptions } from "./manager.ts";

export interface Daemon {
  manager: Manager;
  watcher: ManifestWatcher;
  /** The git source, when the manifests come from one. */
  source?: GitFollower;
  /** Stops watching, lets in-flight reconciles finish, closes connections. */
  stop(): Promise<void>;
}

export interface DaemonOptions extends Omit<ManagerOptions, "beforeResync"> {
  dir: string;
  debounceMs?: number;
  /** Follow a git repository instead of watching `dir`. */
  git?: { mirror: GitMirror; verifier?: SignatureVerifier; intervalMs: number; observer?: SourceObserver; recorded?: readonly SourceCondition[] };
  /** Aborts the start while it still waits for a git source's first commit (SIGTERM). */
  signal?: AbortSignal;
}

export class DaemonStoppedError extends Error {
  constructor() {
    super("stopped before the git source had a first commit in force; nothing was started");
    this.name = "DaemonStoppedError";
  }
}

/** Watcher + manager: every new desired state goes to the controllers; resync re-reads the directory first. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { dir, debounceMs, log, git, signal, ...managerOptions } = options;
  let watcher: ManifestWatcher | undefined;
  const followed = git && (await followGit(git, log, () => watcher?.reload(), signal));
  const source = followed?.follower;
  const manager = new Manager({
    ...managerOptions,
    log,
    // Env files and build contexts are read when the model is built: rebuild it on every resync.
    beforeResync: async () => void (watcher && manager.setDesired(await watcher.reload())),
  });
  const onState = (state: DesiredState) => {
    // The model first, so the redactor knows this state's secrets before anything is logged.
    manager.setDesired(state);
    reportManifestState(log, state);
  };
  watcher = await watchManifests(source ? git!.mirror.manifestsDir : dir, {
    debounceMs,
    // A git source's snapshots never change: the follower reloads when it puts a new commit in force.
    watch: !source,
    loader: followed?.loader,
    // Build contexts are inputs too: an edited source file changes the image, so the Service rolls.
    inputs: () => [...manager.desired.services.values()].flatMap((s) => (s.image.build ? [s.image.build.dir] : [])),
    onChange: onState,
    onError: (error) => log.error("manifests unreadable", { dir, error: error.message, cause: error.cause }),
  });
  source?.follow();
  log.info("berth started", { dir: watcher.current.dir, source: source?.current.url, ref: source?.current.ref, workers: manager.workers, resyncMs: manager.resyncMs, revision: watcher.current.revision?.commit });
  onState(watcher.current);
  await manager.start();
  return {
    manager,
    watcher,
    source,
    async stop() {
      await source?.stop();
      await watcher!.close();
      await manager.stop();
      log.info("berth stopped");
    },
  };
}

/** Logs each manifest problem and a summary; held-back files keep their last valid version in force. */
function reportManifestState(log: Logger, state: DesiredState): void {
  for (const error of state.errors) log.warn("manifest error", { error: error.message });
  const heldBack = state.files.filter((f) => f.state !== "valid").map((f) => f.file);
  log.info("manifests loaded", {
    resources: state.resources.length,
    errors: state.errors.length,
    complete: state.complete,
    heldBack: heldBack.length ? heldBack.join(",") : undefined,
    revision: state.revision?.commit,
    deprecatedApiVersionFiles: state.deprecations?.length || undefined,
  });
}

/**
 * Puts a commit of the git source in force before anything reconciles: the
 * one an earlier run left (verified again), or the first that fetches (and
 * verifies). Until then nothing runs, so an unreachable repository never looks
 * like an empty one; attempts back off up to the poll interval. The loader and
 * the follower's snapshot swap take turns, and the commit a load records is
 * the one whose files it read.
 */
async function followGit(git: NonNullable<DaemonOptions["git"]>, log: Logger, reload: () => Promise<unknown> | undefined, signal?: AbortSignal): Promise<{ follower: GitFollower; loader: ManifestLoader }> {
  const exclusive = oneAtATime();
  const follower = new GitFollower({ ...git, log, exclusive, onCommit: async () => void (await reload()) });
  for (let attempt = 0; !(await follower.init()); attempt++) {
    const delayMs = Math.min(git.intervalMs, 5_000 * 2 ** attempt);
    // The cause was reported by the follower; this says once that nothing runs meanwhile.
    if (attempt === 0) log.warn("waiting for a first commit before reconciling", { url: follower.current.url, ref: follower.current.ref });
    try {
      await sleep(delayMs, undefined, { signal });
    } catch {
      await follower.stop();
      throw new DaemonStoppedError();
    }
  }
  const revision = () => {
    const commit = git.mirror.currentCommit();
    return commit ? { commit, dirty: false } : undefined;
  };
  return { follower, loader: new TurnTakingLoader(git.mirror.manifestsDir, { revision }, exclusive) };
}

/** A loader that reads only between snapshot swaps. */
class TurnTakingLoader extends ManifestLoader {
  constructor(dir: string, options: ConstructorParameters<typeof ManifestLoader>[1], private readonly turn: <T>(fn: () => Promise<T>) => Promise<T>) {
    super(dir, options);
  }

  override load(): ReturnType<ManifestLoader["load"]> {
    return this.turn(() => super.load());
  }
}

/** Runs async functions one after another, in call order. */
function oneAtATime(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
