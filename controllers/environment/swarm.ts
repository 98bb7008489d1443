import type { Driver } from "../../src/docker/driver.ts";
import { LABEL, ownerFilter } from "../../src/docker/labels.ts";
import type { PlanChange } from "../../src/engine/plan-change.ts";
import type { Logger } from "../../src/log/logger.ts";

/**
 * An Environment gone from the manifests on a Swarm target: its Swarm
 * services (and the secrets they mounted) go, as its containers would on a
 * single host, before its overlay network can. Returns what plan says of it.
 */
export async function removeSwarmServices(driver: Driver, scope: { target: string; project: string; environment: string }, options: { dryRun: boolean; log: Logger }): Promise<PlanChange[]> {
  const swarm = driver.swarm;
  if (!swarm) return [];
  const filter = ownerFilter(scope);
  const services = await swarm.listServices(filter);
  const plan: PlanChange[] = services.map((s) => ({ resource: `Service/${scope.environment}/${s.spec.Labels?.[LABEL.service] ?? s.spec.Name}`, action: "delete", strategy: null, reason: "environment no longer declared", fields: [] }));
  if (options.dryRun) return plan;
  for (const service of services) {
    await swarm.removeService(service.id, service.spec.Name ?? service.id, `Environment/${scope.environment}: environment no longer declared`);
    options.log.info("swarm service removed", { target: scope.target, environment: scope.environment, object: service.spec.Name, reason: "environment no longer declared" });
  }
  // Secrets still mounted by stopping tasks refuse removal: the orphan's next pass tries again.
  for (const secret of await swarm.listSecrets(filter)) await swarm.removeSecret(secret.id, secret.name, `Environment/${scope.environment}: environment no longer declared`).catch(() => undefined);
  return plan;
}
