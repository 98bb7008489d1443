import { createHmac } from "node:crypto";
import type { NotificationEventName } from "../manifests/types.ts";

/**
 * The documented JSON payload (docs/manifests.md#notifications), as stored in
 * the outbox and sent with `format: json`. It holds no secret: `message` was
 * masked before it was stored.
 */
export interface NotificationPayload {
  event: NotificationEventName;
  /** ISO 8601, when the outcome happened. */
  time: string;
  project: string | null;
  environment: string | null;
  service: string | null;
  /** The service's revision (its spec hash) the rollout was about. */
  revision: string | null;
  /** The image's content digest, when Berth knows it. */
  imageDigest: string | null;
  /** The manifests' git commit in force. */
  commit: string | null;
  /** succeeded, failed, rolled_back, repaired, invalid or unverified: never `succeeded` for a rolled-back rollout. */
  outcome: string;
  /** Seconds the rollout took, from its start to its end; null for other events. */
  duration: number | null;
  message: string;
}

/** The event's outcome word: the part of its name after the dot. */
export function outcomeOf(event: NotificationEventName): string {
  return event.slice(event.indexOf(".") + 1);
}

/** The raw request body for a receiver's format. */
export function formatBody(payload: NotificationPayload, format: "json" | "slack"): string {
  if (format === "json") return JSON.stringify(payload);
  return JSON.stringify({ text: slackText(payload) });
}

/** One line a person reads in a chat channel: what, where, which revision and commit, how long, why; escaped as Slack requires. */
export function slackText(p: NotificationPayload): string {
  const where = [p.project, p.environment, p.service].filter((part) => part !== null).join("/");
  const facts = [
    p.revision ? `revision ${p.revision.slice(0, 12)}` : undefined,
    p.commit ? `commit ${p.commit.slice(0, 12)}` : undefined,
    p.imageDigest ? `image ${p.imageDigest}` : undefined,
    p.duration !== null ? `after ${formatSeconds(p.duration)}` : undefined,
  ].filter((f) => f !== undefined);
  const head = `[berth] ${p.event}${where ? ` ${where}` : ""}`;
  return escapeSlack(`${head}${facts.length ? ` (${facts.join(", ")})` : ""}: ${p.message}`);
}

/** Slack reads `<…>` as links and mentions and `&…;` as entities: &, < and > are sent as &amp;, &lt; and &gt;. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
}

/** The value of X-Berth-Signature-256: `sha256=` and the hex HMAC-SHA256 of the raw body under the receiver's key. */
export function signatureOf(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export const SIGNATURE_HEADER = "X-Berth-Signature-256";
