import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { parseEnv } from "node:util";
import type { EnvironmentSpec, EnvVar } from "../manifests/types.ts";

/** A spec that cannot be deployed until it is changed (a missing file, an unset variable). */
export class SpecError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SpecError";
  }
}

export interface ResolvedEnv {
  /** `NAME=value` entries in a stable order. */
  entries: string[];
  /** Names whose values are secret: never printed, logged or stored in clear text. */
  secretNames: string[];
}

/** Decides whether a file may be read for a manifest (HostPathPolicy): its real path, or a SpecError. */
export interface ReadPolicy {
  readable(path: string, what: string, where: string): string;
}

/** Opens env files that are not plain dotenv (SOPS-encrypted, YAML, JSON): their values, or undefined for plain dotenv. */
export interface EnvFileOpener {
  open(text: string, file: string): Record<string, string> | undefined;
}

/** An env file that could not be opened (e.g. no key for its encryption), remembered for one model build. */
class UnreadableFile {
  constructor(readonly error: unknown) {}
}

/** Reads the env files a spec names, each once per model build, if the host-path policy lets it. */
export class EnvFileReader {
  private readonly cache = new Map<string, Record<string, string> | UnreadableFile>();
  constructor(
    private readonly manifestsDir: string,
    private readonly policy?: ReadPolicy,
    private readonly opener?: EnvFileOpener,
  ) {}

  /** Absolute path of an env file named in a manifest. */
  resolve(path: string): string {
    return isAbsolute(path) ? path : resolve(this.manifestsDir, path);
  }

  /** `where`: the manifest location that names the file, for a refusal. */
  read(path: string, where = ""): Record<string, string> {
    const file = this.resolve(path);
    // Checked on every read (cheap): the location in a refusal is the manifest that named the file.
    const real = this.policy ? this.policy.readable(file, "env file", where) : file;
    let values = this.cache.get(file);
    if (!values) {
      let text: string;
      try {
        text = readFileSync(real, "utf8");
      } catch (error) {
        throw new SpecError(`env file ${file} cannot be read; expected a dotenv file (KEY=value per line) at that path`, { cause: error });
      }
      try {
        values = this.opener?.open(text, file) ?? (parseEnv(text) as Record<string, string>);
      } catch (error) {
        // Kept for this build: every manifest that names the file reports it without decrypting it again.
        values = new UnreadableFile(error);
      }
      this.cache.set(file, values);
    }
    if (values instanceof UnreadableFile) {
      const failed = values.error;
      throw new SpecError(`${where ? `${where}: ` : ""}env file ${file}: ${failed instanceof Error ? failed.message : String(failed)}`, { cause: failed });
    }
    return values;
  }
}

/** Manifest locations (`file:line:col`) of the Environment and the Service, for messages. */
export interface EnvLocations {
  environment: string;
  service: string;
}

/**
 * The environment of a service's containers, lowest precedence first:
 * the Environment's envFiles, its variables, the Service's env, the Environment's override env.
 */
export function resolveEnv(
  environment: EnvironmentSpec,
  serviceEnv: EnvVar[] | undefined,
  overrideEnv: EnvVar[] | undefined,
  files: EnvFileReader,
  daemonEnv: NodeJS.ProcessEnv,
  where: EnvLocations = { environment: "", service: "" },
): ResolvedEnv {
  const values = new Map<string, { value: string; secret: boolean }>();
  for (const file of environment.envFiles ?? []) {
    for (const [name, value] of Object.entries(files.read(file, where.environment))) values.set(name, { value, secret: true });
  }
  for (const [name, value] of Object.entries(environment.variables ?? {})) values.set(name, { value, secret: false });
  for (const variable of serviceEnv ?? []) values.set(variable.name, resolveOne(variable, files, daemonEnv, where.service));
  for (const variable of overrideEnv ?? []) values.set(variable.name, resolveOne(variable, files, daemonEnv, where.environment));
  const names = [...values.keys()].sort();
  return {
    entries: names.map((name) => `${name}=${values.get(name)!.value}`),
    secretNames: names.filter((name) => values.get(name)!.secret),
  };
}

function resolveOne(variable: EnvVar, files: EnvFileReader, daemonEnv: NodeJS.ProcessEnv, where: string): { value: string; secret: boolean } {
  const from = variable.valueFrom;
  if (!from) return { value: variable.value ?? "", secret: variable.secret };
  if (from.daemonEnv !== undefined) {
    const value = daemonEnv[from.daemonEnv];
    if (value === undefined) throw new SpecError(`env ${variable.name} reads daemon variable ${from.daemonEnv}, which is not set; expected it in the environment berth runs with, e.g. ${from.daemonEnv}=… berth run`);
    return { value, secret: true };
  }
  const key = from.key ?? variable.name;
  const value = files.read(from.envFile!, where)[key];
  if (value === undefined) throw new SpecError(`env ${variable.name} reads key ${key} from ${files.resolve(from.envFile!)}, which has no such key; expected a line ${key}=… in that file`);
  return { value, secret: true };
}
