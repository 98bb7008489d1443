import { createHash } from "node:crypto";
import type { ReconcileOutcome, RolloutReport } from "../engine/observer.ts";
import type { NotificationEventName } from "../manifests/types.ts";
import type { OutboxDeployment } from "../store/notification-repository.ts";

/** Where an outcome happened; `project` undefined when no model seen names the environment. */
export interface Where {
  project?: string;
  environment?: string;
  service?: string;
}

/** A rollout's end as a notification needs it: from the live report, or from its `deployments` row after a crash. */
export interface EndedRollout {
  key: string;
  outcome: "success" | "failed" | "rolled_back";
  revision: string;
  previous?: string;
  failure?: string;
  rollbackError?: string;
  hasHealthCheck: boolean;
  deploymentId?: number;
}

/** A rollout superseded by a newer revision, a removed Service or a suspended Environment: no failure, not told. */
const SUPERSEDED = /^superseded\b/;

/** The ended rollout of a report, or undefined while it runs or when it was superseded. */
export function endedOfReport(rollout: RolloutReport): EndedRollout | undefined {
  if (!rollout.outcome || rollout.state === "superseded" || SUPERSEDED.test(rollout.failure ?? "")) return undefined;
  return { ...rollout, outcome: rollout.outcome };
}

/** The ended rollout of a finished `deployments` row, or undefined when it was superseded. */
export function endedOfRow(row: OutboxDeployment): EndedRollout | undefined {
  const outcome = row.status === "success" || row.status === "failed" || row.status === "rolled_back" ? row.status : undefined;
  if (!outcome || SUPERSEDED.test(row.error ?? "")) return undefined;
  return { key: row.service, outcome, revision: row.revision, previous: row.previousRevision ?? undefined, failure: row.error ?? undefined, hasHealthCheck: row.healthCheckPassed === true, deploymentId: row.id };
}

export function rolloutEventName(outcome: EndedRollout["outcome"]): NotificationEventName {
  return outcome === "success" ? "rollout.succeeded" : outcome === "rolled_back" ? "rollout.rolled_back" : "rollout.failed";
}

/** What the rollout came to, for people. */
export function rolloutMessage(r: EndedRollout): string {
  const short = r.revision.slice(0, 12);
  if (r.outcome === "success") return `revision ${short} is running${r.hasHealthCheck ? " and healthy" : ""}`;
  if (r.outcome === "rolled_back") return `revision ${short} failed (${r.failure}); revision ${r.previous?.slice(0, 12)} restored`;
  return `revision ${short} failed: ${r.failure}${r.rollbackError ? `; rollback failed: ${r.rollbackError}` : ""}`;
}

/** How long a repeated repair of the same drift is told only once. */
export const DRIFT_WINDOW_MS = 10 * 60_000;

/**
 * Names a repaired drift: the same changes to the same key within one
 * 10-minute window are one notification (a crash-looping container repaired
 * on every pass is told once per window), also across restarts.
 */
export function driftDedupeKey(outcome: Pick<ReconcileOutcome, "key" | "changes">, time: number): string {
  const summary = outcome.changes.map((c) => `${c.path}\n${c.observed}\n${c.desired}`).join("\n\n");
  const digest = createHash("sha256").update(summary).digest("hex").slice(0, 16);
  return `drift:${outcome.key}:${digest}:${Math.floor(time / DRIFT_WINDOW_MS)}`;
}
