/**
 * Reads a compose project the way compose does: by asking compose itself
 * (`docker compose config`, else `docker-compose config`), so interpolation,
 * override files, env_file, extends and profiles follow the Compose
 * Specification exactly. The source files are read only for what the
 * resolved form loses: where an env value came from.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { parseEnv, promisify } from "node:util";
import { parse } from "yaml";
import type { ComposeProject } from "./convert.ts";

const run = promisify(execFile);

/** Compose could not read the project: its own message, and what to do. */
export class ComposeReadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ComposeReadError";
  }
}

type Mapping = Record<string, unknown>;
const mapping = (value: unknown): Mapping => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Mapping) : {});

/** The compose command on this machine: the v2 plugin first, then the v1 program. */
async function composeCommand(env: NodeJS.ProcessEnv): Promise<string[]> {
  const candidates = [["docker", "compose"], ["docker-compose"]];
  for (const command of candidates) {
    try {
      await run(command[0]!, [...command.slice(1), "version"], { env });
      return command;
    } catch {
      // not installed: try the next
    }
  }
  throw new ComposeReadError("berth import compose reads compose files through compose itself, and found neither `docker compose` nor `docker-compose`; expected one of them on PATH (e.g. apt install docker-compose)");
}

export async function readComposeProject(files: string[], options: { profiles: string[]; env?: NodeJS.ProcessEnv }): Promise<ComposeProject> {
  const env = options.env ?? process.env;
  const paths = files.map((f) => resolve(f));
  for (const p of paths) if (!existsSync(p)) throw new ComposeReadError(`compose file ${p} does not exist; expected a path such as ./docker-compose.yml`);
  const projectDir = dirname(paths[0]!);
  const command = await composeCommand(env);
  const args = [...command.slice(1), ...paths.flatMap((p) => ["-f", p]), ...options.profiles.flatMap((p) => ["--profile", p]), "config"];
  let output: string;
  try {
    output = (await run(command[0]!, args, { env, cwd: projectDir, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    const said = (error as { stderr?: string }).stderr?.trim() || (error instanceof Error ? error.message : String(error));
    throw new ComposeReadError(`${command.join(" ")} config could not read ${paths.join(", ")}: ${said}`, { cause: error });
  }
  const config = mapping(parse(output));
  const name = typeof config.name === "string" ? config.name : env.COMPOSE_PROJECT_NAME || basename(projectDir).toLowerCase().replace(/[^-_a-z0-9]/g, "");

  const sources: ComposeProject["sources"] = {};
  for (const file of paths) {
    const raw = mapping(parse(readFileSync(file, "utf8")));
    for (const [service, value] of Object.entries(mapping(raw.services))) {
      const entry = (sources[service] ??= { envFiles: [], environment: {} });
      const declared = mapping(value);
      const envFiles = declared.env_file === undefined ? [] : Array.isArray(declared.env_file) ? declared.env_file : [declared.env_file];
      // An override file's env_file list replaces the base file's.
      if (envFiles.length) entry.envFiles = envFiles.map((f) => resolve(projectDir, String(typeof f === "object" && f !== null ? (f as Mapping).path : f)));
      const environment = declared.environment;
      if (Array.isArray(environment)) {
        for (const line of environment.map(String)) {
          const at = line.indexOf("=");
          entry.environment[at < 0 ? line : line.slice(0, at)] = at < 0 ? null : line.slice(at + 1);
        }
      } else for (const [k, v] of Object.entries(mapping(environment))) entry.environment[k] = v === null || v === undefined ? null : String(v);
    }
  }
  const envFileValues: ComposeProject["envFileValues"] = {};
  for (const file of new Set(Object.values(sources).flatMap((s) => s.envFiles))) if (existsSync(file)) envFileValues[file] = parseEnv(readFileSync(file, "utf8")) as Record<string, string>;
  const dotenvFile = resolve(projectDir, ".env");
  const dotenv = existsSync(dotenvFile) ? { file: dotenvFile, values: parseEnv(readFileSync(dotenvFile, "utf8")) as Record<string, string> } : undefined;
  return { config, name, sources, envFileValues, profiles: options.profiles, ...(dotenv ? { dotenv } : {}) };
}
