import { registryHost, type RegistryLogin } from "../docker/registry-auth.ts";
import type { DeploymentTarget } from "../manifests/types.ts";
import type { EnvFileReader } from "./env.ts";

/**
 * A target's `registries:` with their passwords read now, as env secrets are.
 * A password that cannot be read does not fail the model: only a pull from
 * that registry needs it, and that pull fails naming what is missing.
 */
export function resolveRegistryLogins(target: DeploymentTarget, files: EnvFileReader, daemonEnv: NodeJS.ProcessEnv): RegistryLogin[] {
  const { file, line, col } = target.source;
  const origin = `DeploymentTarget/${target.metadata.name} (${file}:${line}:${col})`;
  return (target.spec.registries ?? []).map((entry) => {
    const login = { server: registryHost(entry.server), username: entry.username, origin };
    const from = entry.passwordFrom;
    try {
      if (from.daemonEnv !== undefined) {
        const password = daemonEnv[from.daemonEnv];
        if (password === undefined) return { ...login, problem: `the password of ${entry.username}@${login.server} reads daemon variable ${from.daemonEnv}, which is not set; expected it in the environment berth runs with, e.g. ${from.daemonEnv}=… berth run` };
        return { ...login, password };
      }
      const password = files.read(from.envFile, `${file}:${line}:${col}`)[from.key];
      if (password === undefined) return { ...login, problem: `the password of ${entry.username}@${login.server} reads key ${from.key} from ${files.resolve(from.envFile)}, which has no such key; expected a line ${from.key}=… in that file` };
      return { ...login, password };
    } catch (error) {
      // The env file is missing, unreadable or outside what the host-path policy allows.
      return { ...login, problem: error instanceof Error ? error.message : String(error) };
    }
  });
}
