import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { ageKeyFileOption, allowHostPathOption, dbOption, logOptions, parseDurationFlag, positiveInt, type LogOptions } from "../options.ts";
import { renderStatusTable } from "../status-table.ts";
import type { ResourceStatus } from "../../engine/controller.ts";
import type { Manager } from "../../engine/manager.ts";
import type { Redactor } from "../../log/logger.ts";
import { gitOptions, gitSetup, type GitFlags } from "../git-options.ts";
import { ProgressReporter, type ProgressMode } from "../progress.ts";
import { withComposeAdoption } from "../adopt-flag.ts";

/** `berth apply [DIR]`: one full reconcile of every resource, optionally waiting for health. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  const command = program
    .command("apply")
    .description("converge every target toward the manifests once, then exit")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .option("--wait", "also wait until every Service is Running and healthy")
    .addOption(new Option("--timeout <duration>", "give up after this long").default(5 * 60_000, "5m").argParser(parseDurationFlag))
    .addOption(dbOption())
    .addOption(allowHostPathOption())
    .addOption(ageKeyFileOption())
    // One pass over everything: services are independent until a dependency says otherwise, so more run at once than in the daemon.
    .addOption(new Option("--workers <n>", "services reconciled at once").default(16).argParser((v) => positiveInt(v, "--workers")))
    .option("--adopt-compose <project>", "take over the running compose project of this name (as adopt: compose/<project> on the one Environment)")
    .addOption(new Option("--progress <mode>", "live lines on a terminal (tty), one line per change (plain), or none; auto: tty on a terminal, else plain").choices(["auto", "tty", "plain", "none"]).default("auto"))
    .addOption(new Option("-o, --output <format>", "text, or json: progress and the final status as JSON lines on stdout").choices(["text", "json"]).default("text"))
    .addHelpText(
      "after",
      "\nExit status: 0 when everything converged (and, with --wait, is healthy), 1 otherwise. A failure that waiting cannot fix\n(a rollout failed or rolled back, an image missing under imagePullPolicy Never, a name owned by another target, a host\nport held outside Berth) ends the wait at once, naming the resource, the reason and the container's last log lines.",
    );
  for (const option of [...gitOptions(), ...logOptions()]) command.addOption(option);
  command.action(async (dir: string, options: LogOptions & GitFlags & { wait?: boolean; timeout: number; allowHostPath?: string[]; ageKeyFile?: string; progress: "auto" | ProgressMode | "none"; output: "text" | "json"; workers: number; adoptCompose?: string }) => {
    const git = gitSetup(options, "apply");
    // Loaded when the command runs: --help and version stay light.
    const [{ createRuntime, loadValid }, { Manager }, { fetchOnce }] = await Promise.all([import("../runtime.ts"), import("../../engine/manager.ts"), import("../../source/fetch-once.ts")]);
    const runtime = await createRuntime(io, options);
    if (git?.credential) runtime.redactor.addOwnSecret(git.credential);
    // With --git: one fetch (and signature check) puts the commit in force, then the same single pass.
    const source = git && (await fetchOnce(git, runtime.log, runtime.sourceObserver).catch(async (error: unknown) => {
      await runtime.close();
      throw error;
    }));
    const loaded = await loadValid(source ? git.mirror.manifestsDir : dir, io, source && { revision: () => ({ commit: source.commit!, dirty: false }) });
    let state = loaded;
    try {
      if (loaded && options.adoptCompose) state = withComposeAdoption(loaded, options.adoptCompose);
    } catch (error) {
      await runtime.close();
      throw error;
    }
    if (!state) {
      await runtime.close();
      return setExitCode(1);
    }
    // Engine events are followed while apply runs too: Docker's own health changes land in the store.
    const manager = new Manager({ ...runtime.managerOptions, workers: options.workers });
    manager.setDesired(state);
    await manager.start();
    const progress = startProgress(options.output === "json" ? "json" : options.progress, options.output === "json" ? io.stdout : io.stderr, runtime.redactor, () => manager.status());
    const result = await manager.settle({ timeoutMs: options.timeout, ready: !!options.wait }).finally(() => progress?.stop());
    if (options.output === "json") io.stdout(runtime.redactor.redact(`${JSON.stringify({ ok: result.ok, status: manager.status() })}\n`));
    else io.stdout(runtime.redactor.redact(renderStatusTable(manager.status())));
    if (!result.ok) io.stdout(runtime.redactor.redact(await describeFailures(manager, result.pending, runtime.redactor)));
    await manager.stop();
    // The outcomes of this apply are told now; a receiver that is down gets them from the daemon's retries.
    await runtime.notifier.sendOnce();
    await runtime.close();
    setExitCode(result.ok ? 0 : 1);
  });
};

/** Shows progress from status snapshots every 200 ms until stopped (then once more, so the last state is shown). */
function startProgress(mode: "auto" | ProgressMode | "none", write: (text: string) => void, redactor: Pick<Redactor, "redact">, statuses: () => ResourceStatus[]): { stop(): void } | undefined {
  if (mode === "none") return undefined;
  const reporter = new ProgressReporter(mode === "auto" ? (process.stderr.isTTY ? "tty" : "plain") : mode, (text) => write(redactor.redact(text)));
  const timer = setInterval(() => reporter.update(statuses()), 200);
  return {
    stop() {
      clearInterval(timer);
      reporter.update(statuses());
    },
  };
}

/**
 * Names what did not converge and shows the last lines its newest container printed (asked of the manager).
 * The logs are masked as Docker gave them, before they are split and indented: a secret printed over
 * several lines (a PEM key) no longer matches once each of its lines is indented.
 */
export async function describeFailures(manager: Manager, pending: ResourceStatus[], redactor: Pick<Redactor, "redact">): Promise<string> {
  const lines = ["", "Not converged:"];
  for (const status of pending) {
    const why = status.error ?? status.message;
    lines.push(`  ${status.kind}/${status.name}: ${status.phase}${why ? `: ${why}` : ""}`);
    if (status.kind !== "Service") continue;
    try {
      const last = await manager.lastLogs(`Service/${status.name}`);
      if (!last) continue;
      lines.push(`    last logs of ${last.container} (${last.state}${last.exitCode !== undefined ? `, exit ${last.exitCode}` : ""}):`);
      const logs = redactor.redact(last.logs).trimEnd();
      lines.push(...(logs ? logs.split("\n").map((l) => `      ${l}`) : ["      (no output)"]));
    } catch {
      // the target itself is the problem, already named above
    }
  }
  return `${lines.join("\n")}\n`;
}
