export type EnvironmentPhase = "Provisioning" | "Healthy" | "Degraded" | "Failed" | "Stopped";

/** What an environment pass found: its own objects converged, and each service's phase. */
export interface EnvironmentFacts {
  suspended: boolean;
  services: { service: string; phase: string }[];
}

/**
 * An Environment's phase: Provisioning until every service runs (or is scaled
 * to zero), then Healthy, and still while a service rolls out; Degraded when an environment that was healthy loses
 * a service or one fails; Provisioning while a suspension stops its services,
 * then Stopped; Failed when its own objects cannot be made. `everHealthy` is
 * the one thing it remembers between passes, and it forgets it once stopped.
 */
export function environmentPhase(facts: EnvironmentFacts, failed: boolean, everHealthy: boolean): { phase: EnvironmentPhase; everHealthy: boolean } {
  if (failed) return { phase: "Failed", everHealthy };
  const all = (phases: string[]) => facts.services.every((s) => phases.includes(s.phase));
  if (facts.suspended) return all(["Stopped"]) ? { phase: "Stopped", everHealthy: false } : { phase: "Provisioning", everHealthy };
  // A service scaled to zero is Stopped, and that is what its manifest asks for.
  if (all(["Running", "Stopped"])) return { phase: "Healthy", everHealthy: true };
  // A rollout in a healthy environment does not degrade it: the old revision serves, and a failure shows as Failed.
  if (everHealthy && all(["Running", "Stopped", "Updating"])) return { phase: "Healthy", everHealthy };
  if (facts.services.some((s) => s.phase === "Failed") || everHealthy) return { phase: "Degraded", everHealthy };
  return { phase: "Provisioning", everHealthy };
}
