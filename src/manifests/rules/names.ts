import type { ManifestError } from "../errors.ts";
import { problemAt, servicesOf, type Parsed, type Rule } from "./catalog.ts";

/**
 * Docker names are built by joining names with '-', so two environments can
 * produce the same volume or network name (env prod + volume eu-data, env
 * prod-eu + volume data). On one target that would share data: refuse it.
 */
export const generatedNamesAreUnique: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  const owners = new Map<string, { environment: Parsed<"Environment">; what: string }>();
  for (const environment of catalog.byKind.Environment.values()) {
    const { project, target } = environment.resource.spec;
    const prefix = `${project}-${environment.resource.metadata.name}`;
    const names = [{ name: prefix, what: "its network" }];
    for (const service of servicesOf(catalog, project)) {
      for (const network of service.resource.spec.networks ?? []) names.push({ name: `${prefix}-${network}`, what: `network ${network}` });
      for (const volume of service.resource.spec.volumes ?? []) if (volume.type === "volume" && volume.source) names.push({ name: `${prefix}-${volume.source}`, what: `volume ${volume.source}` });
    }
    for (const { name, what } of names) {
      const key = `${target}\0${name}`;
      const first = owners.get(key);
      if (first && first.environment !== environment) {
        errors.push(
          problemAt(environment, ["metadata", "name"], `Docker name ${name} (${what}) is also the name of ${first.what} of Environment/${first.environment.resource.metadata.name} on DeploymentTarget/${target}`, {
            expected: "environment, volume and network names that do not run together into the same Docker name",
            example: `name: ${environment.resource.metadata.name.replace(/-/g, "")}`,
          }),
        );
      } else if (!first) owners.set(key, { environment, what });
    }
  }
  return errors;
};
