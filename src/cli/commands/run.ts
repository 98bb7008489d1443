import { readFileSync } from "node:fs";
import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { createRuntime, daemonRollouts, dbOption, logOptions, parseDurationFlag, type LogOptions } from "../runtime.ts";
import { startDaemon } from "../../engine/daemon.ts";
import { DEFAULT_LISTEN, startHttpServer } from "../../http/server.ts";
import { manifestHealth } from "../../manifests/health.ts";
import { DEFAULT_RETENTION } from "../../store/index.ts";

interface RunOptions extends LogOptions {
  workers: number;
  resync: number;
  db: string;
  listen: string;
  healthRetention: number;
  eventRetention: number;
  apiTokenFile?: string;
}

/** `berth run [DIR]`: the daemon. */
export const register: CommandModule["register"] = (program, io) => {
  const command = program
    .command("run")
    .description("run the daemon: watch the manifests, follow engine events, resync periodically, converge continuously")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .addOption(new Option("--workers <n>", "reconciles running at once").default(4).argParser((v) => positiveInt(v, "--workers")))
    .addOption(new Option("--resync <duration>", "re-check everything this often, even without events").default(5 * 60_000, "5m").argParser(parseDurationFlag))
    .addOption(dbOption())
    .addOption(new Option("--listen <host:port>", "HTTP server for /metrics, /healthz, /readyz and /api/v1").default(DEFAULT_LISTEN))
    .addOption(new Option("--api-token-file <path>", "file holding a bearer token that allows rollbacks and retries over the API (default $BERTH_API_TOKEN; without one the API is read-only)"))
    .addOption(new Option("--health-retention <duration>", "keep health results this long").default(DEFAULT_RETENTION.healthMs, "3d").argParser(parseDurationFlag))
    .addOption(new Option("--event-retention <duration>", "keep events and the audit log this long").default(DEFAULT_RETENTION.eventsMs, "14d").argParser(parseDurationFlag))
    .addHelpText("after", "\nStops cleanly on SIGINT or SIGTERM: in-flight Docker calls finish, nothing is left half-made.");
  for (const option of logOptions()) command.addOption(option);
  command.action(async (dir: string, options: RunOptions) => {
    const runtime = await createRuntime(io, options);
    const { log } = runtime;
    const apiToken = options.apiTokenFile ? readFileSync(options.apiTokenFile, "utf8").trim() : io.env.BERTH_API_TOKEN || undefined;
    if (apiToken !== undefined && apiToken.length < 16) throw new Error("the API token is shorter than 16 characters; expected a long random one, e.g. openssl rand -hex 32 > token");
    if (apiToken) runtime.redactor.addOwnSecret(apiToken);
    const daemon = await startDaemon({ ...runtime.managerOptions, dir, workers: options.workers, resyncMs: options.resync });
    let http: Awaited<ReturnType<typeof startHttpServer>>;
    try {
      http = await startHttpServer({ listen: options.listen, metrics: runtime.metrics, store: runtime.store, manager: daemon.manager, rollouts: daemonRollouts(daemon.manager, runtime.store), log, manifests: () => manifestHealth(daemon.watcher.current), apiToken });
    } catch (error) {
      // No half-started daemon: without its HTTP server it stops and says why.
      await daemon.stop();
      await runtime.close();
      throw new Error(`cannot listen on ${options.listen}: ${error instanceof Error ? error.message : error}; expected a free host:port, e.g. --listen 127.0.0.1:9465`, { cause: error });
    }
    log.info("http listening", { address: http.address, api: apiToken ? "rollbacks allowed with the token" : "read-only" });
    const retention = { ...DEFAULT_RETENTION, healthMs: options.healthRetention, eventsMs: options.eventRetention, auditMs: options.eventRetention };
    const retentionTimer = setInterval(() => {
      runtime.store.enforceRetention(retention).then(
        (removed) => removed && log.info("retention enforced", { removed }),
        (error: unknown) => log.warn("retention failed", { error }),
      );
    }, 60 * 60_000);
    retentionTimer.unref();

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
    clearInterval(retentionTimer);
    await http.close();
    await daemon.stop();
    await runtime.close();
  });
};

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a whole number of at least 1, e.g. ${flag} 4`);
  return n;
}
