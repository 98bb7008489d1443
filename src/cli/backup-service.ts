import type { DesiredService } from "../desired/model.ts";
import type { Driver } from "../docker/driver.ts";
import type { CliIO } from "./context.ts";
import type { Runtime } from "./runtime.ts";
import { ServiceArgumentError } from "./service-containers.ts";

/** A Service as the manifests want it in one Environment, and its target's driver. */
export interface BackupService {
  service: DesiredService;
  driver: Driver;
}

/**
 * Resolves `Service/name` (+ --env) or `Service/environment/name` in the
 * manifests of `dir` to the desired Service, its backups resolved, and
 * connects to its target through the runtime (so every call is audited).
 * Undefined (problems printed) when the manifests are invalid.
 */
export async function backupServiceFromArgs(io: CliIO, runtime: Runtime, arg: string, env: string | undefined, dir: string, options: { allowHostPath?: string[] }): Promise<BackupService | undefined> {
  const [{ loadValid }, { buildDesiredModel, secretValuesOf }] = await Promise.all([import("./runtime.ts"), import("../desired/model.ts")]);
  const state = await loadValid(dir, io);
  if (!state) return undefined;
  const model = buildDesiredModel(state, { daemonEnv: io.env, hostPaths: { allow: options.allowHostPath ?? [] }, ageKeys: runtime.managerOptions.ageKeys });
  // A hook may print what the service's secrets hold: masked in every message, as in the daemon.
  runtime.redactor.setSecrets(secretValuesOf(model));
  const parts = arg.replace(/^Service\//, "").split("/");
  const [environment, name] = parts.length === 2 ? [parts[0], parts[1]!] : [env, parts[0]!];
  const candidates = [...model.services.values()].filter((s) => s.service === name && (!environment || s.environment === environment));
  if (candidates.length === 0) throw new ServiceArgumentError(`Service/${environment ? `${environment}/` : ""}${name} is not declared in ${dir}; expected one of ${[...model.services.keys()].join(", ") || "(none)"}`);
  if (candidates.length > 1) throw new ServiceArgumentError(`Service/${name} runs in several environments (${candidates.map((s) => s.environment).join(", ")}); expected --env, e.g. --env ${candidates[0]!.environment}`);
  const service = candidates[0]!;
  const target = model.targets.get(service.target);
  if (!target) throw new ServiceArgumentError(`DeploymentTarget/${service.target} of ${service.key} is not declared in ${dir}`);
  return { service, driver: runtime.managerOptions.connect(target) };
}
