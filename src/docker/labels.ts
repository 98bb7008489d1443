/** Labels Berth puts on every object it owns; they, not names, say what an object is. */
export const LABEL = {
  managed: "dev.berth.managed",
  project: "dev.berth.project",
  environment: "dev.berth.environment",
  service: "dev.berth.service",
  replica: "dev.berth.replica",
  specHash: "dev.berth.spec-hash",
  revision: "dev.berth.revision",
  target: "dev.berth.target",
  volume: "dev.berth.volume",
  /** Set on a container created outside its service's name, to join it once ready (a rolling update's surge). */
  joinWhenReady: "dev.berth.join-when-ready",
  /** Set on a helper container that runs one job (a backup, a restore) and is removed after it; never managed. */
  job: "dev.berth.job",
  /** On a Swarm service: the digest of the spec Berth wrote, so that a spec written otherwise is seen as drift. */
  swarmSpec: "dev.berth.swarm-spec",
} as const;

/** Label filter values selecting Berth's objects on one target, optionally narrowed to one environment or service. */
export function ownerFilter(scope: { target?: string; project?: string; environment?: string; service?: string } = {}): string[] {
  const filters = [`${LABEL.managed}=true`];
  // A target owns what carries its name: two targets on one engine never prune each other.
  if (scope.target) filters.push(`${LABEL.target}=${scope.target}`);
  if (scope.project) filters.push(`${LABEL.project}=${scope.project}`);
  if (scope.environment) filters.push(`${LABEL.environment}=${scope.environment}`);
  if (scope.service) filters.push(`${LABEL.service}=${scope.service}`);
  return filters;
}
