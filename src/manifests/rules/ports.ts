import type { ManifestError } from "../errors.ts";
import type { PortMapping } from "../types.ts";
import type { FieldPath } from "../yaml-locator.ts";
import { problemAt, servicesOf, type Catalog, type Parsed, type Rule } from "./catalog.ts";

/** One host port that an environment's service would bind on a target. */
interface Binding {
  port: PortMapping & { host: number };
  environment: Parsed<"Environment">;
  service: string;
  /** Where the port is written: the Service, or the Environment's override. */
  declaredIn: Parsed<"Service"> | Parsed<"Environment">;
  path: FieldPath;
  replicas: number;
}

const ANY_ADDRESS = new Set(["0.0.0.0", "::"]);

function overlaps(a: PortMapping & { host: number }, b: PortMapping & { host: number }): boolean {
  if (a.host !== b.host || a.protocol !== b.protocol) return false;
  return a.hostIP === b.hostIP || ANY_ADDRESS.has(a.hostIP) || ANY_ADDRESS.has(b.hostIP);
}

/** Every host port published on a target, with environment overrides applied. */
function bindingsByTarget(catalog: Catalog): Map<string, Binding[]> {
  const byTarget = new Map<string, Binding[]>();
  for (const environment of catalog.byKind.Environment.values()) {
    const { project, target, overrides } = environment.resource.spec;
    const list = byTarget.get(target) ?? [];
    byTarget.set(target, list);
    for (const service of servicesOf(catalog, project)) {
      const name = service.resource.metadata.name;
      const override = overrides?.[name];
      const replicas = override?.replicas ?? service.resource.spec.replicas;
      const fromOverride = override?.ports !== undefined;
      const ports = (fromOverride ? override.ports : service.resource.spec.ports) ?? [];
      ports.forEach((port, i) => {
        if (port.host === undefined || replicas === 0) return;
        const declaredIn = fromOverride ? environment : service;
        const path = fromOverride ? ["spec", "overrides", name, "ports", i, "host"] : ["spec", "ports", i, "host"];
        list.push({ port: port as Binding["port"], environment, service: name, declaredIn, path, replicas });
      });
    }
  }
  return byTarget;
}

function freePort(taken: Binding[], from: number, protocol: string): number {
  const used = new Set(taken.filter((b) => b.port.protocol === protocol).map((b) => b.port.host));
  let candidate = from + 1;
  while (used.has(candidate) && candidate < 65535) candidate++;
  return candidate;
}

function owner(b: Binding): string {
  return `Environment/${b.environment.resource.metadata.name} Service/${b.service}`;
}

/** No two containers on one target may publish the same host port. */
export const hostPortsAreFree: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const [target, bindings] of bindingsByTarget(catalog)) {
    bindings.forEach((binding, i) => {
      const { host, protocol } = binding.port;
      const alternative = freePort(bindings, host, protocol);
      if (binding.replicas > 1) {
        errors.push(
          problemAt(binding.declaredIn, binding.path, `${binding.replicas} replicas of ${owner(binding)} would all publish host port ${host}/${protocol}`, {
            expected: "replicas: 1 with a fixed host port, or no host port and a reverse proxy in front",
            example: `ports: [{container: ${binding.port.container}}]`,
          }),
        );
      }
      const earlier = bindings.slice(0, i).find((other) => overlaps(other.port, binding.port));
      if (!earlier) return;
      const fix = binding.declaredIn.resource.kind === "Service"
        ? `in Environment/${binding.environment.resource.metadata.name}: overrides: {${binding.service}: {ports: [{container: ${binding.port.container}, host: ${alternative}}]}}`
        : `host: ${alternative}`;
      errors.push(
        problemAt(binding.declaredIn, binding.path, `host port ${host}/${protocol} of ${owner(binding)} is already taken by ${owner(earlier)} on DeploymentTarget/${target}`, {
          expected: `a host port free on DeploymentTarget/${target}, such as ${alternative}`,
          example: fix,
        }),
      );
    });
  }
  return errors;
};
