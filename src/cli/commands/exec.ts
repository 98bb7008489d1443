import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";

interface ExecOptions {
  env?: string;
  dir: string;
  replica: number;
  interactive: boolean;
  tty: boolean;
}

/** `berth exec Service/name -- CMD...`: a command in one running replica, with a terminal when there is one. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("exec")
    .description("run a command in a running replica of a service (locally or over SSH); exits with the command's status")
    .argument("<service>", "Service/name, or Service/environment/name")
    .argument("<command...>", "the command and its arguments, after --")
    .option("--env <environment>", "the environment, when the argument does not name one")
    .option("--dir <dir>", "manifests directory (to find the environment's target)", DEFAULT_MANIFESTS_DIR)
    .addOption(new Option("--replica <n>", "the replica slot").default(0).argParser(Number))
    .option("-i, --interactive", "pass standard input to the command (always with a terminal)", false)
    .option("-T, --no-tty", "no terminal, even when one is attached")
    .addHelpText("after", "\nExample: berth exec Service/db --env production -- psql -U app")
    .action(async (service: string, command: string[], options: ExecOptions) => {
      const { serviceOnTarget } = await import("../service-containers.ts");
      const { execInContainer } = await import("../../docker/streams.ts");
      const { LABEL } = await import("../../docker/labels.ts");
      const found = await serviceOnTarget(service, options.env, options.dir, io.env);
      try {
        // The replica that serves the slot: running, the newest if a rollout has two.
        const container = found.containers.find((c) => c.Labels[LABEL.replica] === String(options.replica) && c.State === "running");
        if (!container) {
          io.stderr(`Service/${found.environment}/${found.service} has no running container in replica slot ${options.replica}; expected one of ${[...new Set(found.containers.filter((c) => c.State === "running").map((c) => c.Labels[LABEL.replica]))].join(", ") || "(none running)"}\n`);
          return setExitCode(1);
        }
        const terminal = options.tty && process.stdin.isTTY === true && process.stdout.isTTY === true;
        const stdin = terminal || options.interactive ? process.stdin : undefined;
        if (terminal) process.stdin.setRawMode(true);
        try {
          const code = await execInContainer(found.driver, container.Id, command, {
            stdout: (chunk) => io.stdout(chunk.toString("utf8")),
            stderr: (chunk) => io.stderr(chunk.toString("utf8")),
            ...(stdin ? { stdin } : {}),
            ...(terminal ? { tty: { columns: process.stdout.columns, rows: process.stdout.rows } } : {}),
          });
          setExitCode(code);
        } finally {
          if (terminal) process.stdin.setRawMode(false);
          if (stdin) process.stdin.pause();
        }
      } finally {
        found.driver.close();
      }
    });
};
