import type { Logger } from "../log/logger.ts";
import type { DesiredState } from "../manifests/load.ts";
import { watchManifests, type ManifestWatcher } from "../manifests/watch.ts";
import { Manager, type ManagerOptions } from "./manager.ts";

export interface Daemon {
  manager: Manager;
  watcher: ManifestWatcher;
  /** Stops watching, lets in-flight reconciles finish, closes connections. */
  stop(): Promise<void>;
}

export interface DaemonOptions extends Omit<ManagerOptions, "beforeResync"> {
  dir: string;
  debounceMs?: number;
}

/** Watcher + manager: every new desired state goes to the controllers; resync re-reads the directory first. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { dir, debounceMs, log, ...managerOptions } = options;
  let watcher: ManifestWatcher | undefined;
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
  watcher = await watchManifests(dir, {
    debounceMs,
    // Build contexts are inputs too: an edited source file changes the image, so the Service rolls.
    inputs: () => [...manager.desired.services.values()].flatMap((s) => (s.image.build ? [s.image.build.dir] : [])),
    onChange: onState,
    onError: (error) => log.error("manifests unreadable", { dir, error: error.message, cause: error.cause }),
  });
  log.info("berth started", { dir: watcher.current.dir, workers: manager.workers, resyncMs: manager.resyncMs, revision: watcher.current.revision?.commit });
  onState(watcher.current);
  await manager.start();
  return {
    manager,
    watcher,
    async stop() {
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
  });
}
