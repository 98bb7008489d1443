import { registryHost } from "../../docker/registry-auth.ts";
import type { ManifestError } from "../errors.ts";
import { problemAt, type Rule } from "./catalog.ts";

/**
 * Each registry is listed once per target: two entries for one host (also
 * spelled differently: a URL, docker.io and index.docker.io) would leave it
 * to chance which password a pull sends.
 */
export const registriesAreDistinct: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const target of catalog.byKind.DeploymentTarget.values()) {
    const seen = new Map<string, number>();
    target.resource.spec.registries?.forEach((entry, i) => {
      const host = registryHost(entry.server);
      // The schema asks for envFile or daemonEnv; a registry password has no variable name to default the key to.
      const from: { envFile?: string; key?: string } = entry.passwordFrom;
      if (from.envFile !== undefined && from.key === undefined) {
        errors.push(problemAt(target, ["spec", "registries", i, "passwordFrom"], `passwordFrom.envFile needs the "key" to read`, { expected: "envFile and key", example: `passwordFrom: {envFile: ${from.envFile}, key: REGISTRY_PASSWORD}`, target: "value" }));
      }
      const first = seen.get(host);
      if (first === undefined) {
        seen.set(host, i);
        return;
      }
      errors.push(
        problemAt(target, ["spec", "registries", i, "server"], `registry ${host} is already listed at registries[${first}]`, {
          expected: "one entry per registry server",
          example: `registries: [{server: ${host}, username: ${entry.username}, passwordFrom: {envFile: secrets/registry.env, key: REGISTRY_PASSWORD}}]`,
          target: "value",
        }),
      );
    });
  }
  return errors;
};
