import { Option } from "commander";
import { driverForTarget } from "../docker/transport.ts";
import { Manager, type ManagerOptions } from "../engine/manager.ts";
import { createLogger, Redactor, type Logger, type LogLevel } from "../log/logger.ts";
import { parseDuration } from "../manifests/duration.ts";
import { loadManifests, type DesiredState } from "../manifests/load.ts";
import type { CliIO } from "./context.ts";

/** Reads manifests for a command that acts on them; prints every problem and returns undefined when invalid. */
export async function loadValid(dir: string, io: CliIO): Promise<DesiredState | undefined> {
  const state = await loadManifests(dir);
  if (state.errors.length === 0) return state;
  for (const error of state.errors) io.stderr(`${error.message}\n`);
  io.stderr(`${dir}: ${state.errors.length} problem(s); nothing was changed\n`);
  return undefined;
}

export interface LogOptions {
  logFormat: "text" | "json";
  logLevel: LogLevel;
}

/** --log-format and --log-level, shared by commands that log. */
export function logOptions(): Option[] {
  return [
    new Option("--log-format <format>", "text or json").choices(["text", "json"]).default("text"),
    new Option("--log-level <level>", "debug, info, warn or error").choices(["debug", "info", "warn", "error"]).default("info"),
  ];
}

/** A logger writing to stderr through one redactor, so no sink sees a secret. */
export function createRuntimeLogger(io: CliIO, options: LogOptions, redactor: Redactor): Logger {
  return createLogger({ format: options.logFormat, level: options.logLevel, write: (line) => io.stderr(`${line}\n`), redactor });
}

/** A manager wired to real drivers. */
export function createManager(io: CliIO, log: Logger, redactor: Redactor, options: Partial<ManagerOptions>): Manager {
  return new Manager({ log, redactor, connect: (target) => driverForTarget(target, { env: io.env }), daemonEnv: io.env, ...options });
}

/** Parses a duration flag such as 5m or 30s. */
export function parseDurationFlag(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new Error(`invalid duration "${value}"; expected e.g. 30s, 5m or 1h`);
  return ms;
}

export { Redactor };
