import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { parseDuration } from "../../manifests/duration.ts";

interface LogsOptions {
  env?: string;
  dir: string;
  follow: boolean;
  since?: string;
  tail?: number;
  timestamps: boolean;
  revision?: string;
  color: boolean;
}

const COLOURS = [36, 33, 32, 35, 34, 31];

/** `berth logs Service/name`: every replica's output, merged and prefixed, as `docker compose logs` shows it. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("logs")
    .description("print the output of a service's containers, every replica merged and prefixed by replica (locally or over SSH)")
    .argument("<service>", "Service/name, or Service/environment/name")
    .option("--env <environment>", "the environment, when the argument does not name one")
    .option("--dir <dir>", "manifests directory (to find the environment's target)", DEFAULT_MANIFESTS_DIR)
    .option("-f, --follow", "keep printing new output until interrupted", false)
    .option("--since <when>", "only output since a duration ago (10m, 1h30m) or a time (2026-01-02T15:04:05Z)")
    .addOption(new Option("--tail <n>", "the last n lines of each container").argParser(Number))
    .option("-t, --timestamps", "show the engine's timestamps", false)
    .option("--revision <hash>", "only containers of this revision (a past one's, while they exist)")
    .option("--no-color", "never colour the prefixes (default: coloured on a terminal)")
    .action(async (service: string, options: LogsOptions) => {
      const { serviceOnTarget } = await import("../service-containers.ts");
      const { containerLogLines } = await import("../../docker/streams.ts");
      const { LABEL } = await import("../../docker/labels.ts");
      const since = options.since ? sinceSeconds(options.since) : undefined;
      const found = await serviceOnTarget(service, options.env, options.dir, io.env);
      try {
        const containers = found.containers.filter((c) => !options.revision || c.Labels[LABEL.specHash]?.startsWith(options.revision));
        if (containers.length === 0) {
          io.stderr(`Service/${found.environment}/${found.service} has no container${options.revision ? ` of revision ${options.revision}` : ""} on DeploymentTarget/${found.driver.target}\n`);
          return setExitCode(1);
        }
        const revisions = new Set(containers.map((c) => c.Labels[LABEL.specHash]));
        const prefixes = containers.map((c) => `${found.service}-${c.Labels[LABEL.replica]}${revisions.size > 1 ? `@${c.Labels[LABEL.specHash]?.slice(0, 7)}` : ""}`);
        const width = Math.max(...prefixes.map((p) => p.length));
        const colour = options.color && process.stdout.isTTY === true && !io.env.NO_COLOR;
        const label = (i: number) => (colour ? `\x1b[${COLOURS[i % COLOURS.length]}m${prefixes[i]!.padEnd(width)} |\x1b[0m` : `${prefixes[i]!.padEnd(width)} |`);
        const print = (i: number, line: { time: string; text: string }) => (options.timestamps ? `${label(i)} ${line.time} ${line.text}\n` : `${label(i)} ${line.text}\n`);
        const read = { follow: options.follow, since, tail: options.tail };
        if (options.follow) {
          // Lines of each container in order, containers interleaved as their lines come.
          const stop = new AbortController();
          const interrupt = () => stop.abort();
          process.once("SIGINT", interrupt);
          try {
            await Promise.all(containers.map((c, i) => containerLogLines(found.driver, c.Id, read, (line) => io.stdout(print(i, line)), stop.signal)));
          } finally {
            process.off("SIGINT", interrupt);
          }
        } else {
          const all: { i: number; time: string; text: string }[] = [];
          await Promise.all(containers.map((c, i) => containerLogLines(found.driver, c.Id, read, (line) => all.push({ i, ...line }))));
          // One history, in the order it was written.
          all.sort((a, b) => a.time.localeCompare(b.time));
          if (all.length) io.stdout(all.map((line) => print(line.i, line)).join(""));
        }
        setExitCode(0);
      } finally {
        found.driver.close();
      }
    });
};

/** `10m` ago, or an absolute time, as Unix seconds. */
function sinceSeconds(text: string): number {
  const duration = parseDuration(text);
  if (duration !== undefined) return Math.floor((Date.now() - duration) / 1000);
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new Error(`--since ${text} is neither a duration nor a time; expected e.g. --since 10m or --since 2026-01-02T15:04:05Z`);
  return Math.floor(time / 1000);
}
