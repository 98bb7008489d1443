import type Docker from "dockerode";
import { LABEL } from "../../../src/docker/labels.ts";
import type { SwarmService, SwarmTask } from "../../../src/docker/swarm.ts";
import type { DesiredService } from "../../../src/desired/model.ts";
import type { PlanChange } from "../../../src/engine/plan-change.ts";
import type { DeploymentStatus } from "../../../src/store/repositories.ts";
import type { ServiceFacts } from "../phase.ts";
import type { SecretInputs } from "./secrets.ts";
import { swarmServiceSpec } from "./spec.ts";

/** What one pass observed of a Swarm service: the service (absent when there is none) and its tasks. */
export interface SwarmWorld {
  now: number;
  service?: SwarmService;
  tasks: SwarmTask[];
  /** The Swarm secrets of its secret env values, and the process they are read in front of. */
  secretEnv?: SecretInputs;
}

/** The service's last rollout on record. */
export interface SwarmRecords {
  latest?: { id: number; revision: string; status: DeploymentStatus; startedAt: number; error?: string | null };
}

export type SwarmAction =
  | { type: "create"; spec: Docker.ServiceSpec; reason: string }
  | { type: "update"; id: string; version: number; spec: Docker.ServiceSpec; reason: string }
  | { type: "remove"; id: string; name: string; reason: string };

export interface SwarmDecision {
  actions: SwarmAction[];
  /** A rollout to record as started (before acting), or the open one to close with its outcome. */
  start?: { revision: string; previous?: string; image: string };
  finish?: { id: number; status: DeploymentStatus; error?: string };
  facts: ServiceFacts;
  change?: PlanChange;
  /** Why the pass cannot converge, when waiting will not help. */
  error?: { message: string; terminal: boolean; retry: boolean; reason?: string };
}

/** While Swarm moves tasks, look again this often. */
export const SWARM_POLL_MS = 1_000;

/** How long tasks of a new service may fail or wait for a node before its rollout counts as failed. */
const STUCK_MS = 5 * 60_000;

const ACTIVE_UPDATE = new Set(["updating", "rollback_started"]);

/** The revision a service or task runs, from the label Berth puts on both. */
export function revisionOf(labels: Record<string, string> | undefined): string | undefined {
  return labels?.[LABEL.specHash];
}

/**
 * One Swarm service's next step, from what should run, what runs and the
 * last rollout on record. Pure: `plan` and the reconcile pass call it alike.
 * Swarm runs the update (its UpdateConfig) and, on failure, its rollback;
 * Berth starts it, follows it through the service's UpdateStatus and tasks,
 * and records how it ended. A revision Swarm rolled back is held: Berth does
 * not push it again until the manifest changes.
 */
export function decideSwarmService(desired: DesiredService | undefined, world: SwarmWorld, records: SwarmRecords): SwarmDecision {
  const { service } = world;
  if (!desired) {
    if (!service) return { actions: [], facts: { desired: 0, running: 0, ready: 0, converged: true, message: "removed" } };
    return {
      actions: [{ type: "remove", id: service.id, name: service.spec.Name ?? service.id, reason: "service no longer declared" }],
      facts: { desired: 0, running: running(world.tasks), ready: 0, converged: false, message: "removing its Swarm service", changed: true },
    };
  }
  const spec = swarmServiceSpec(desired, world.secretEnv);
  const want = desired.swarm?.global ? undefined : desired.suspended ? 0 : desired.replicas;
  const latest = records.latest;
  const open = latest && (latest.status === "in_progress" || latest.status === "pending") ? latest : undefined;

  if (!service) {
    const drift = !!latest && !open;
    const reason = drift ? "its Swarm service was removed behind Berth's back" : "new service";
    return {
      actions: [{ type: "create", spec, reason }],
      ...(open ? {} : { start: { revision: desired.specHash, image: desired.image.ref } }),
      facts: { desired: want ?? 0, running: 0, ready: 0, converged: false, message: `creating its Swarm service (${reason})`, rolling: true, changed: true, requeueAfterMs: SWARM_POLL_MS },
      change: { resource: desired.key, action: drift ? "repair" : "create", strategy: null, reason, fields: [] },
    };
  }

  const runs = revisionOf(service.spec.Labels);
  const scheduled = world.tasks.filter((t) => t.desiredState === "running");
  const current = scheduled.filter((t) => revisionOf(t.labels) === desired.specHash);
  const up = running(current);
  // Global mode: one task per eligible node, as many as Swarm scheduled (at least one), all of this revision.
  const count = want ?? Math.max(1, scheduled.length);
  const base = { desired: count, running: up, ready: up };
  const startRow = open?.revision === desired.specHash ? {} : { start: { revision: desired.specHash, previous: runs, image: desired.image.ref } };

  if (runs !== desired.specHash) {
    // Swarm rolled this revision back (or the update paused): held until the manifest changes.
    if (latest && latest.revision === desired.specHash && !open && latest.status !== "success") {
      const held = `revision ${desired.specHash.slice(0, 12)} ${latest.status === "rolled_back" ? "was rolled back by Swarm" : "failed"}${latest.error ? `: ${latest.error}` : ""}; it runs ${runs?.slice(0, 12) ?? "another revision"} until the manifest changes`;
      return { actions: [], facts: { ...runningFacts(world.tasks, count), converged: true, message: held, held } };
    }
    if (open && open.revision === desired.specHash && ACTIVE_UPDATE.has(service.updateState ?? "")) {
      const message = service.updateState === "rollback_started" ? `Swarm is rolling the update back: ${service.updateMessage ?? "a new task failed"}` : `Swarm is updating (${up}/${count} of the new revision running)`;
      return { actions: [], facts: { ...base, converged: false, message, rolling: true, requeueAfterMs: SWARM_POLL_MS } };
    }
    if (open && open.revision === desired.specHash && service.updateState === "rollback_paused") {
      return finished(open.id, "failed", `Swarm paused the rollback of the update: ${service.updateMessage ?? "a task failed"}`, base);
    }
    if (open && open.revision === desired.specHash && service.updateState === "rollback_completed") {
      const failed = world.tasks.find((t) => revisionOf(t.labels) === desired.specHash && (t.state === "failed" || t.state === "rejected"));
      return finished(open.id, "rolled_back", `Swarm rolled the update back: ${failed?.error ?? failed?.message ?? service.updateMessage ?? "a new task failed"}`, base);
    }
    const reason = runs ? "the manifest changed" : "its Swarm service was changed behind Berth's back";
    // Swarm cannot switch a service between replicated and global mode: it is made again.
    const modeChanged = !!service.spec.Mode?.Global !== !!desired.swarm?.global;
    const actions: SwarmAction[] = modeChanged
      ? [{ type: "remove", id: service.id, name: spec.Name!, reason: "switching between replicated and global mode" }, { type: "create", spec, reason: "switching between replicated and global mode" }]
      : [{ type: "update", id: service.id, version: service.version, spec, reason }];
    return {
      actions,
      ...startRow,
      ...(open && open.revision !== desired.specHash ? { finish: { id: open.id, status: "failed" as const, error: "superseded by a newer revision" } } : {}),
      facts: { ...base, converged: false, message: `rolling out revision ${desired.specHash.slice(0, 12)} through Swarm's update`, rolling: true, changed: true, requeueAfterMs: SWARM_POLL_MS },
      change: { resource: desired.key, action: "rollout", strategy: desired.strategy, reason, fields: [] },
    };
  }

  // The service runs the desired revision's label. Drift the label does not show: its spec edited by hand, or
  // written by an older Berth (the digest of what Berth writes differs), or scaled by hand.
  const edited = editedBehindBerth(service.spec, spec);
  if (edited && !ACTIVE_UPDATE.has(service.updateState ?? "")) {
    return {
      actions: [{ type: "update", id: service.id, version: service.version, spec, reason: edited }],
      facts: { ...base, converged: false, message: `repairing its Swarm service: ${edited}`, changed: true, requeueAfterMs: SWARM_POLL_MS },
      change: { resource: desired.key, action: "repair", strategy: null, reason: edited, fields: [] },
    };
  }
  const replicas = service.spec.Mode?.Replicated?.Replicas;
  if (want !== undefined && replicas !== want) {
    return {
      actions: [{ type: "update", id: service.id, version: service.version, spec, reason: `scaled to ${replicas} behind Berth's back; the manifest asks for ${want}` }],
      facts: { ...base, converged: false, message: `scaling to ${want}`, changed: true, requeueAfterMs: SWARM_POLL_MS },
      change: { resource: desired.key, action: "scale", strategy: null, reason: `replicas ${replicas} -> ${want}`, fields: ["spec.replicas"] },
    };
  }
  if (ACTIVE_UPDATE.has(service.updateState ?? "")) {
    return { actions: [], facts: { ...base, converged: false, message: `Swarm is ${service.updateState === "updating" ? "updating" : "rolling back"} (${up}/${count} running)`, rolling: true, requeueAfterMs: SWARM_POLL_MS } };
  }
  if (service.updateState === "paused" || service.updateState === "rollback_paused") {
    const message = `Swarm paused the update: ${service.updateMessage ?? "tasks failed"}`;
    if (open) return { ...finished(open.id, "failed", message, base), error: { message, terminal: true, retry: true, reason: "UpdatePaused" } };
    return { actions: [], facts: { ...base, converged: true, message }, error: { message, terminal: true, retry: true, reason: "UpdatePaused" } };
  }
  if (open && open.revision === desired.specHash) {
    const allNew = scheduled.every((t) => revisionOf(t.labels) === desired.specHash);
    if (up >= count && allNew) return finished(open.id, "success", undefined, base);
    const waited = world.now - open.startedAt;
    // Tasks that keep failing, or that no node can take (placement, resources), end the rollout after a while.
    const unplaceable = (t: SwarmTask) => t.state === "pending" && /no suitable node/.test(t.error ?? t.message ?? "");
    const failing = world.tasks.find((t) => revisionOf(t.labels) === desired.specHash && (t.state === "failed" || t.state === "rejected" || unplaceable(t)));
    if (failing && waited > STUCK_MS) return { ...finished(open.id, "failed", `${failing.state === "pending" ? "no node can run its tasks" : "its tasks keep failing"}: ${failing.error ?? failing.message ?? failing.state}`, base) };
    return { actions: [], facts: { ...base, converged: false, message: `waiting for tasks (${up}/${count} running${failing ? `; last failure: ${failing.error ?? failing.message}` : ""})`, rolling: true, requeueAfterMs: SWARM_POLL_MS } };
  }
  // Tasks that die are Swarm's to restart: Berth reports them and waits.
  const message = up >= count ? `${up}/${count} tasks running` : `${up}/${count} tasks running; Swarm is restarting the others`;
  return { actions: [], facts: { ...base, converged: up >= count, message, ...(up < count ? { requeueAfterMs: 5 * SWARM_POLL_MS } : {}) } };
}

function finished(id: number, status: DeploymentStatus, error: string | undefined, facts: Pick<ServiceFacts, "desired" | "running" | "ready">): SwarmDecision {
  const done = status === "success";
  return {
    actions: [],
    finish: { id, status, ...(error ? { error } : {}) },
    facts: { ...facts, converged: done, message: done ? `${facts.running}/${facts.desired} tasks running` : (error ?? status), ...(done ? {} : { held: error }) },
  };
}

function running(tasks: readonly SwarmTask[]): number {
  return tasks.filter((t) => t.desiredState === "running" && t.state === "running").length;
}

/** How many of `desired` tasks run, from the tasks Swarm wants running. */
export function runningFacts(tasks: readonly SwarmTask[], desired: number): Pick<ServiceFacts, "desired" | "running" | "ready"> {
  const up = running(tasks);
  return { desired, running: up, ready: up };
}

/** What differs, in words, between a service's spec and the one Berth writes for the same revision; undefined when nothing does. */
function editedBehindBerth(observed: Docker.ServiceSpec, wanted: Docker.ServiceSpec): string | undefined {
  if (observed.Labels?.[LABEL.swarmSpec] !== wanted.Labels?.[LABEL.swarmSpec]) return "its Swarm spec is not the one Berth writes for this revision";
  const a = containerSpecOf(observed);
  const b = containerSpecOf(wanted);
  // A client may pin the image to the digest it resolved (docker service update does): compare what was asked for.
  if ((a?.Image ?? "").split("@")[0] !== (b?.Image ?? "").split("@")[0]) return `its image was changed behind Berth's back to ${a?.Image}`;
  if (JSON.stringify([...(a?.Env ?? [])].sort()) !== JSON.stringify([...(b?.Env ?? [])].sort())) return "its environment was changed behind Berth's back";
  if (JSON.stringify(a?.Args ?? []) !== JSON.stringify(b?.Args ?? []) || JSON.stringify(a?.Command ?? []) !== JSON.stringify(b?.Command ?? [])) return "its command was changed behind Berth's back";
  return undefined;
}

function containerSpecOf(spec: Docker.ServiceSpec): Docker.ContainerSpec | undefined {
  return (spec.TaskTemplate as { ContainerSpec?: Docker.ContainerSpec } | undefined)?.ContainerSpec;
}
