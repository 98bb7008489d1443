import { Option } from "commander";
import type { RolloutStatus } from "../../../controllers/service/requests.ts";
import type { CommandModule } from "../context.ts";
import { ApiError, apiOptions, callApi, servicePath, type ApiOptions } from "../api-client.ts";
import { table } from "../table.ts";

type StatusOptions = ApiOptions & { env?: string; watch?: boolean; interval: string; output: "text" | "json" };

/** `berth rollout status|retry`: a service's rollout, as the running daemon sees it. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  const rollout = program.command("rollout").description("follow or retry a service's rollout (asks the running daemon)");

  const status = rollout
    .command("status")
    .description("show the rollout in progress (or the last one) with every replica's revision, state and health")
    .argument("<service>", "Service/name with --env, or Service/environment/name")
    .option("--env <environment>", "the environment, when the argument does not name one")
    .option("-w, --watch", "print again on every change until the rollout ends; exit 1 if it did not succeed")
    .option("--interval <ms>", "how often --watch asks, in milliseconds", "1000")
    .addOption(new Option("-o, --output <format>", "text or json").choices(["text", "json"]).default("text"));
  for (const option of apiOptions()) status.addOption(option);
  status.action(async (service: string, options: StatusOptions) => {
    await reportErrors(async () => {
      const path = `/api/v1/services/${servicePath(service, options.env)}/rollout`;
      let last = "";
      const started = Date.now();
      for (;;) {
        const answer = (await callApi(io, options, "GET", path)) as RolloutStatus;
        // Right after a rollback or retry the rollout may not have begun yet: give it a moment before calling it over.
        const notYet = options.watch && !answer.rollout && (answer.latest?.startedAt ?? 0) < started && Date.now() - started < 5_000;
        const text = options.output === "json" ? `${JSON.stringify(answer, null, 2)}\n` : describe(answer);
        if (text !== last && !notYet) io.stdout(options.watch && last ? `\n${text}` : text);
        if (!notYet) last = text;
        if (!options.watch || (!answer.rollout && !notYet)) {
          if (options.watch && answer.latest?.status !== "success") setExitCode(1);
          return;
        }
        await new Promise((r) => setTimeout(r, Number(options.interval) || 1000));
      }
    });
  });

  const retry = rollout
    .command("retry")
    .description("roll the manifest's revision out again after a failed or rolled-back rollout (needs the daemon's API token)")
    .argument("<service>", "Service/name with --env, or Service/environment/name")
    .option("--env <environment>", "the environment, when the argument does not name one");
  for (const option of apiOptions()) retry.addOption(option);
  retry.action(async (service: string, options: ApiOptions & { env?: string }) => {
    await reportErrors(async () => {
      const answer = (await callApi(io, options, "POST", `/api/v1/services/${servicePath(service, options.env)}/retry`)) as { service: string };
      io.stdout(`${answer.service}: retrying the manifest's revision\n`);
    });
  });

  async function reportErrors(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      io.stderr(`${error.message}\n`);
      setExitCode(1);
    }
  }
};

const short = (revision: string | null | undefined) => (revision ? revision.slice(0, 12) : "-");

/** The status as text: header lines, then one row per replica. */
function describe(status: RolloutStatus): string {
  const lines = [`${status.service}: manifest revision ${short(status.manifestRevision)}, running ${short(status.runningRevision)}`];
  const r = status.rollout;
  if (r) {
    const waiting = r.waiting.length ? `, waiting for slot(s) ${r.waiting.join(", ")}` : "";
    lines.push(`rollout: ${r.phase} revision ${short(r.revision)} (from ${short(r.previous)}, ${r.trigger}), step ${r.steps}${waiting}${r.failure ? `; ${r.failure}` : ""}`);
  } else if (status.latest) {
    const l = status.latest;
    lines.push(`last rollout: ${l.status} revision ${short(l.revision)} (${l.trigger})${l.error ? `: ${l.error}` : ""}`);
  } else lines.push("no rollout yet");
  if (status.pin) lines.push(`held: ${status.pin.reason}`);
  if (status.error) lines.push(`replicas unknown: ${status.error}`);
  const rows = status.replicas.map((c) => [String(c.slot), c.container, short(c.revision), c.state, c.health, c.revision === (r?.revision ?? status.runningRevision) ? "current" : "old"]);
  return `${lines.join("\n")}\n${table(["SLOT", "CONTAINER", "REVISION", "STATE", "HEALTH", "ROLE"], rows)}`;
}
