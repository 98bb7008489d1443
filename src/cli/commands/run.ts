import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { createRuntimeLogger, logOptions, parseDurationFlag, Redactor, type LogOptions } from "../runtime.ts";
import { driverForTarget } from "../../docker/transport.ts";
import { startDaemon } from "../../engine/daemon.ts";

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
    const daemon = await startDaemon({
      dir,
      log,
      redactor,
      connect: (target) => driverForTarget(target, { env: io.env }),
      daemonEnv: io.env,
      workers: options.workers,
      resyncMs: options.resync,
    });
    const signal = await new Promise<string>((resolve) => {
      const stop = (name: string) => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve(name);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    log.info("stopping", { signal });
    await daemon.stop();
  });
};

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a whole number of at least 1, e.g. ${flag} 4`);
  return n;
}
