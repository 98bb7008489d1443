import { Command, CommanderError } from "commander";
import { COMMANDS } from "./commands/index.ts";
import type { CliIO, ExitCode } from "./context.ts";
import { readPackageVersion } from "./version-info.ts";

/** Builds the `berth` program with every command registered. */
export async function buildProgram(io: CliIO, setExitCode: (code: ExitCode) => void): Promise<Command> {
  const program = new Command("berth")
    .description("GitOps reconciler for Docker hosts: converges containers, networks and volumes toward declarative manifests.")
    .version(readPackageVersion(), "-V, --version", "print the version")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const command of COMMANDS) command.register(program, io, setExitCode);
  return program;
}

/** Runs the CLI with `argv` and returns the process exit code. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<ExitCode> {
  let exitCode: ExitCode = 0;
  const program = await buildProgram(io, (code) => (exitCode = code));
  if (argv.length <= 2) {
    io.stdout(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    io.stderr(`berth: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

function processIO(): CliIO {
  // A reader that goes away (`berth history | head`) ends the output, not the command with a stack trace.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  };
}
