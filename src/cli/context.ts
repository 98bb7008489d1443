import type { Command } from "commander";

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** A command's action result: its process exit code. */
export type ExitCode = number;

/** Every file in src/cli/commands/ exports one of these; main.ts finds them by listing the folder. */
export interface CommandModule {
  register(program: Command, io: CliIO, setExitCode: (code: ExitCode) => void): void;
}

/** Output formats shared by commands that print data. */
export type OutputFormat = "text" | "json";

/** Parses `-o/--output`, rejecting what the command does not support. */
export function parseOutputFormat(value: string): OutputFormat {
  if (value === "text" || value === "json") return value;
  throw new Error(`unknown output format "${value}"; expected text or json, e.g. -o json`);
}
