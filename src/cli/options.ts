import { isAbsolute } from "node:path";
import { Option } from "commander";
import { ALLOW_HOST_PATH_FLAG } from "../desired/host-paths.ts";
import type { LogLevel } from "../log/logger.ts";
import { parseDuration } from "../manifests/duration.ts";
import { DEFAULT_DB_URL } from "../store/defaults.ts";

// The options commands share. Light on purpose: every command registers them at start-up,
// so nothing here may import the engine, the store, Docker or the state machines.

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

/** --db: the store every command reads or writes. */
export function dbOption(): Option {
  return new Option("--db <url>", "libSQL database: a file: path or a libSQL server URL").default(DEFAULT_DB_URL);
}

/**
 * --allow-host-path PREFIX, repeatable: what manifests may read (env files, build contexts) and
 * bind-mount beyond the defaults. The host's operator decides, not whoever can commit.
 */
export function allowHostPathOption(): Option {
  return new Option(
    `${ALLOW_HOST_PATH_FLAG} <prefix>`,
    "let manifests read env files and build contexts under this absolute path (besides the manifests directory), and bind-mount it even when it is a system folder or the Docker socket; repeatable. See docs/security.md",
  ).argParser(parseAllowHostPath);
}

/** Collects one --allow-host-path value; a relative path is refused (it would depend on the working directory). */
export function parseAllowHostPath(value: string, previous: string[] | undefined): string[] {
  if (!isAbsolute(value)) throw new Error(`${ALLOW_HOST_PATH_FLAG} "${value}" is not an absolute path; expected e.g. ${ALLOW_HOST_PATH_FLAG} /srv/secrets`);
  return [...(previous ?? []), value];
}

/**
 * --age-key-file FILE: age identities for env files encrypted with SOPS (default $SOPS_AGE_KEY_FILE).
 * Read whenever the model is built, so a replaced key file takes effect without a restart.
 */
export function ageKeyFileOption(): Option {
  return new Option("--age-key-file <file>", "age identities (AGE-SECRET-KEY-1… lines, as age-keygen writes) that decrypt env files encrypted with SOPS (default $SOPS_AGE_KEY_FILE). See docs/security.md");
}

/** Parses a duration flag such as 5m or 30s. */
export function parseDurationFlag(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new Error(`invalid duration "${value}"; expected e.g. 30s, 5m or 1h`);
  return ms;
}

/** Parses a count flag such as --workers: a whole number of at least 1. */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a whole number of at least 1, e.g. ${flag} 4`);
  return n;
}
