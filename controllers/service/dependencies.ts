import type { ContainerHealth, ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";

/** Health of a container as Berth sees it: Docker's status for exec checks, the prober's for http/tcp. */
export type HealthOf = (container: ObservedContainer, service: DesiredService) => ContainerHealth | undefined;

/** Containers of a service that run its current spec. */
export function currentContainers(service: DesiredService, containers: readonly ObservedContainer[]): ObservedContainer[] {
  return containers.filter((c) => c.service === service.service && c.specHash === service.specHash && c.slot >= 0 && c.slot < service.replicas);
}

/** A running container is ready when it has no health check or its check passes. */
export function isReady(container: ObservedContainer, service: DesiredService, healthOf: HealthOf): boolean {
  return container.state === "running" && (!service.healthCheck || healthOf(container, service) === "healthy");
}

/**
 * What a service is still waiting for before its containers may start, one
 * phrase per unmet dependency (empty when it may start).
 */
export function unmetDependencies(
  service: DesiredService,
  peers: ReadonlyMap<string, DesiredService>,
  containers: readonly ObservedContainer[],
  healthOf: HealthOf,
): string[] {
  const waiting: string[] = [];
  for (const { service: name, condition } of service.dependsOn) {
    const dependency = peers.get(name);
    if (!dependency) continue;
    const current = currentContainers(dependency, containers);
    const need = dependency.suspended ? 0 : dependency.replicas;
    const count = (ok: (c: ObservedContainer) => boolean) => current.filter(ok).length;
    if (condition === "service_started") {
      const running = count((c) => c.state === "running");
      if (running < need) waiting.push(`Service/${name} to start (${running}/${need} running)`);
    } else if (condition === "service_healthy") {
      const healthy = count((c) => isReady(c, dependency, healthOf));
      if (healthy < need) waiting.push(`Service/${name} to be healthy (${healthy}/${need} healthy)`);
    } else {
      const finished = count((c) => c.state === "exited" && c.exitCode === 0);
      if (finished < Math.max(need, 1)) waiting.push(`Service/${name} to complete successfully`);
    }
  }
  return waiting;
}
