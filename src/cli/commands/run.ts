import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { createManager, createRuntimeLogger, logOptions, parseDurationFlag, Redactor, type LogOptions } from "../runtime.ts";
import type { DesiredState } from "../../manifests/load.ts";
import { watchManifests } from "../../manifests/watch.ts";
import type { Logger } from "../../log/logger.ts";

interface RunOptions extends LogOptions {
  workers: number;
  resync: number;
}

/** `berth run [DIR]`: the daemon. */
export const register: CommandModule["register"] = (program, io) => {
  const command = program
    .command("run")
    .description("run the daemon: watch the manifests, follow engine events, resync periodically, converge continuously")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .addOption(new Option("--workers <n>", "reconciles running at once").default(4).argParser((v) => positiveInt(v, "--workers")))
    .addOption(new Option("--resync <duration>", "re-check everything this often, even without events").default(5 * 60_000, "5m").argParser(parseDurationFlag))
    .addHelpText("after", "\nStops cleanly on SIGINT or SIGTERM: in-flight Docker calls finish, nothing is left half-made.");
  for (const option of logOptions()) command.addOption(option);
  command.action(async (dir: string, options: RunOptions) => {
    const redactor = new Redactor();
    const log = createRuntimeLogger(io, options, redactor);
    let watcher: Awaited<ReturnType<typeof watchManifests>> | undefined;
    const manager = createManager(io, log, redactor, {
      workers: options.workers,
      resyncMs: options.resync,
      beforeResync: async () => void (await watcher?.reload()),
    });
    const onState = (state: DesiredState) => {
      reportManifestState(log, state);
      manager.setDesired(state);
    };
    watcher = await watchManifests(dir, { onChange: onState, onError: (error) => log.error("manifests unreadable", { dir, error: error.message, cause: error.cause }) });
    log.info("berth started", { dir: watcher.current.dir, workers: options.workers, resyncMs: options.resync, revision: watcher.current.revision?.commit });
    onState(watcher.current);
    manager.start();

    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info("stopping", { signal });
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    await watcher.close();
    await manager.stop();
    log.info("berth stopped");
  });
};

function reportManifestState(log: Logger, state: DesiredState): void {
  for (const error of state.errors) log.warn("manifest error", { error: error.message });
  const stale = state.files.filter((f) => f.state !== "valid").map((f) => f.file);
  log.info("manifests loaded", {
    resources: state.resources.length,
    errors: state.errors.length,
    complete: state.complete,
    heldBack: stale.length ? stale.join(",") : undefined,
    revision: state.revision?.commit,
  });
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a whole number of at least 1, e.g. ${flag} 4`);
  return n;
}
