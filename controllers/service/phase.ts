import type { ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import { currentContainers, isReady, type HealthOf } from "./dependencies.ts";
import { completed } from "./plan.ts";

/** What a pass found: the counts and message status is made of. */
export interface ServiceFacts {
  desired: number;
  running: number;
  ready: number;
  /** Nothing was left to do: Docker already matches the manifest. */
  converged: boolean;
  message: string;
  /** Look again after this long (waiting on a dependency, on health, or a rollout's next step). */
  requeueAfterMs?: number;
  /** A rollout owns the containers. */
  rolling?: boolean;
  /** Why the service runs another revision than its manifest asks for (a rollback or a failed rollout). */
  held?: string;
  /** The pass changed Docker. */
  changed?: boolean;
}

export type ServicePhase = "Configured" | "Starting" | "Updating" | "Running" | "Stopping" | "Stopped" | "Failed";

/** A Service's phase, derived from what its last pass found; no memory of its own. */
export function servicePhase(facts: ServiceFacts | undefined, error: string | undefined): ServicePhase {
  if (error && !facts?.rolling) return "Failed";
  if (!facts) return "Configured";
  if (facts.rolling) return "Updating";
  if (facts.desired === 0) return facts.running === 0 ? "Stopped" : "Stopping";
  if (facts.running >= facts.desired && facts.ready >= facts.desired) return "Running";
  return "Starting";
}

const WAIT_MS = 1_000;

export const serviceFacts = {
  /** Nothing could be looked at (the spec is unusable). */
  none(message: string): ServiceFacts {
    return { desired: 0, running: 0, ready: 0, converged: false, message };
  },

  /** A rollout owns the containers. */
  rolling(service: DesiredService, message: string, requeueAfterMs: number): ServiceFacts {
    return { desired: service.suspended ? 0 : service.replicas, running: 0, ready: 0, converged: false, rolling: true, message, requeueAfterMs };
  },

  /** Counts of the containers that run the service's current spec. */
  of(service: DesiredService, containers: readonly ObservedContainer[], healthOf: HealthOf, converged: boolean, message: string | undefined, requeueAfterMs: number | undefined): ServiceFacts {
    const current = currentContainers(service, containers);
    // A one-shot container that finished well has done what it is for.
    const done = current.filter((c) => completed(c, service.restartPolicy)).length;
    const running = current.filter((c) => c.state === "running").length + done;
    const ready = current.filter((c) => isReady(c, service, healthOf)).length + done;
    const want = service.suspended ? 0 : service.replicas;
    const stillRunning = service.suspended ? containers.filter((c) => c.state === "running").length : running;
    // Running but not yet healthy: look again soon rather than at the next resync.
    const healthPending = !service.suspended && ready < running;
    return { desired: want, running: stillRunning, ready, converged, message: message ?? `${running}/${want} running, ${ready} ready`, requeueAfterMs: requeueAfterMs ?? (healthPending ? WAIT_MS : undefined) };
  },
};
