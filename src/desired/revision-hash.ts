import type { HealthCheck } from "../manifests/types.ts";
import type { ContainerTemplate } from "./container-spec.ts";
import { hashOf } from "./hash.ts";
import { durationMs } from "./units.ts";

/** What a revision is made of: everything that changes what a container does or how Berth judges it. */
export interface RevisionInput {
  template: ContainerTemplate;
  extraNetworks: string[];
  healthCheck?: HealthCheck;
  /** A Swarm service's placement (global mode, constraints, spread): moving its tasks is a rollout. */
  swarm?: unknown;
}

/**
 * A service's revision (spec hash): sha256 of its container template — image,
 * command, entrypoint, env (secret values included, so a rotated secret rolls
 * out; only this hash of them is stored), mounts, ports, resources, restart
 * policy, stop timeout, labels, Docker's exec health check — its extra
 * networks, and the health check Berth itself probes (http, tcp). How many
 * containers run, whether they run (replicas, suspension) and how a rollout
 * proceeds (update settings) are not part of it; neither is the git revision,
 * which the template only gets as a label after hashing.
 */
export function revisionHash(input: RevisionInput): string {
  // Only a Swarm service's revision has placement in it: every other revision hashes as it always did.
  return hashOf({ template: input.template, extraNetworks: input.extraNetworks, probe: berthProbe(input.healthCheck), ...(input.swarm ? { swarm: input.swarm } : {}) });
}

/**
 * The part of a health check that Docker does not see. An exec check is the
 * container's HEALTHCHECK, already in the template: left out here, so that the
 * revisions of services with one stay what they were. Durations are compared
 * by length, not spelling ("1m" = "60s").
 */
function berthProbe(check: HealthCheck | undefined): unknown {
  if (!check || check.exec) return undefined;
  return {
    http: check.http,
    tcp: check.tcp,
    intervalMs: durationMs(check.interval),
    timeoutMs: durationMs(check.timeout),
    retries: check.retries,
    startPeriodMs: durationMs(check.startPeriod),
  };
}
