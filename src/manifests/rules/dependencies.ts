import type { ManifestError } from "../errors.ts";
import { problemAt, servicesOf, type Catalog, type Parsed, type Rule } from "./catalog.ts";

/**
 * Services of one project must not depend on each other in a circle. A cycle is blamed on
 * a dependsOn entry its last good version did not have (the edit that closed the loop), so
 * that the loader holds back that edit and not an unchanged file; without a previous state,
 * or when every entry was there before, on its alphabetically first service.
 */
export const noDependencyCycles: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const project of catalog.byKind.Project.keys()) {
    const services = new Map(servicesOf(catalog, project).map((s) => [s.resource.metadata.name, s]));
    for (const cycle of findCycles(services)) {
      const loop = cycle.slice(0, -1);
      const start = Math.max(0, loop.findIndex((name, i) => isNewDependency(catalog, services.get(name)!, loop[(i + 1) % loop.length]!)));
      const rotated = [...loop.slice(start), ...loop.slice(0, start)];
      const first = rotated[0]!;
      const second = rotated[1] ?? first;
      const service = services.get(first)!;
      const index = (service.resource.spec.dependsOn ?? []).findIndex((d) => d.service === second);
      errors.push(
        problemAt(service, ["spec", "dependsOn", index, "service"], `dependency cycle: ${[...rotated, first].join(" -> ")}`, {
          expected: "dependencies that form no loop; remove one dependsOn entry of the cycle",
          example: `dependsOn: [] in Service/${first}`,
        }),
      );
    }
  }
  return errors;
};

/** Whether the last good version of a service lacked this dependency; never so without a previous state. */
function isNewDependency(catalog: Catalog, service: Parsed<"Service">, dependency: string): boolean {
  if (!catalog.previous) return false;
  const before = catalog.previous.byKind.Service.get(service.resource.metadata.name);
  if (!before || before.resource.spec.project !== service.resource.spec.project) return true;
  return !(before.resource.spec.dependsOn ?? []).some((d) => d.service === dependency);
}

/** Each distinct cycle once, written from its alphabetically first service and closed. */
export function findCycles(services: Map<string, Parsed<"Service">>): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string) => {
    state.set(name, "visiting");
    stack.push(name);
    for (const { service: next } of services.get(name)?.resource.spec.dependsOn ?? []) {
      if (!services.has(next)) continue; // reported by the reference rule
      if (state.get(next) === "visiting") {
        const loop = stack.slice(stack.indexOf(next));
        const start = loop.indexOf([...loop].sort()[0]!);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        cycles.set(rotated.join(">"), [...rotated, rotated[0]!]);
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(name, "done");
  };
  for (const name of [...services.keys()].sort()) if (!state.has(name)) visit(name);
  return [...cycles.values()];
}

/** `service_healthy` can only be awaited on a dependency that has a health check. */
export const healthyDependenciesHaveChecks: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const service of catalog.byKind.Service.values()) {
    const { dependsOn } = service.resource.spec;
    dependsOn?.forEach((dependency, i) => {
      const target = catalog.byKind.Service.get(dependency.service);
      if (dependency.condition !== "service_healthy" || !target || target.resource.spec.healthCheck) return;
      errors.push(
        problemAt(service, ["spec", "dependsOn", i, "condition"], `waits for Service/${dependency.service} to be healthy, but it has no healthCheck`, {
          expected: `a healthCheck on Service/${dependency.service}, or condition service_started`,
          example: "healthCheck: {tcp: {port: 5432}}",
        }),
      );
    });
  }
  return errors;
};
