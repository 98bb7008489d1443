export type ProjectPhase = "Progressing" | "Ready" | "Degraded" | "Stopped";

/**
 * A Project aggregates its environments: Stopped when all are stopped,
 * Degraded when any is degraded or failed, Ready when all are healthy (or
 * stopped), else Progressing. It makes no Docker calls of its own.
 */
export function projectPhase(environments: readonly string[]): ProjectPhase {
  if (environments.length > 0 && environments.every((p) => p === "Stopped")) return "Stopped";
  if (environments.some((p) => p === "Degraded" || p === "Failed")) return "Degraded";
  if (environments.length > 0 && environments.every((p) => p === "Healthy" || p === "Stopped")) return "Ready";
  return "Progressing";
}
