import type { DesiredService } from "../../../src/desired/model.ts";

/** The Swarm service a Service of a swarm target runs as: named like its containers would be, labelled with its revision. */
export function swarmServiceName(service: Pick<DesiredService, "project" | "environment" | "service">): string {
  return `${service.project}-${service.environment}-${service.service}`;
}
