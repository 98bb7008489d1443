import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { createRuntime, dbOption, loadValid, logOptions, parseDurationFlag, type LogOptions } from "../runtime.ts";
import { renderStatusTable } from "../status-table.ts";
import { observeContainers } from "../../docker/observe.ts";
import { Manager, type ResourceStatus } from "../../engine/manager.ts";

/** `berth apply [DIR]`: one full reconcile of every resource, optionally waiting for health. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  const command = program
    .command("apply")
    .description("converge every target toward the manifests once, then exit")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .option("--wait", "also wait until every Service is Running and healthy")
    .addOption(new Option("--timeout <duration>", "give up after this long").default(5 * 60_000, "5m").argParser(parseDurationFlag))
    .addOption(dbOption())
    .addHelpText("after", "\nExit status: 0 when everything converged (and, with --wait, is healthy), 1 otherwise.");
  for (const option of logOptions()) command.addOption(option);
  command.action(async (dir: string, options: LogOptions & { wait?: boolean; timeout: number; db: string }) => {
    const state = await loadValid(dir, io);
    if (!state) return setExitCode(1);
    const runtime = await createRuntime(io, options);
    // Engine events are followed while apply runs too: Docker's own health changes land in the store.
    const manager = new Manager(runtime.managerOptions);
    manager.setDesired(state);
    await manager.start();
    const result = await manager.settle({ timeoutMs: options.timeout, ready: !!options.wait });
    io.stdout(runtime.redactor.redact(renderStatusTable(manager.status())));
    if (!result.ok) io.stdout(runtime.redactor.redact(await describeFailures(manager, result.pending)));
    await manager.stop();
    await runtime.close();
    setExitCode(result.ok ? 0 : 1);
  });
};

/** Names what did not converge and shows the last lines its newest container printed. */
async function describeFailures(manager: Manager, pending: ResourceStatus[]): Promise<string> {
  const lines = ["", "Not converged:"];
  for (const status of pending) {
    lines.push(`  ${status.kind}/${status.name}: ${status.phase}${status.message ? `: ${status.message}` : ""}`);
    if (status.kind !== "Service") continue;
    const service = manager.desired.services.get(`Service/${status.name}`);
    if (!service) continue;
    try {
      const driver = manager.driverFor(service.target);
      const containers = await observeContainers(driver, { project: service.project, environment: service.environment, service: service.service });
      const newest = containers.sort((a, b) => b.created - a.created)[0];
      if (!newest) continue;
      const logs = (await driver.logs(newest.id, 20)).trimEnd();
      lines.push(`    last logs of ${newest.name} (${newest.state}${newest.exitCode !== undefined ? `, exit ${newest.exitCode}` : ""}):`);
      lines.push(...(logs ? logs.split("\n").map((l) => `      ${l}`) : ["      (no output)"]));
    } catch {
      // the target itself is the problem, already named above
    }
  }
  return `${lines.join("\n")}\n`;
}
