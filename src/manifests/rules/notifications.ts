import { createHash } from "node:crypto";
import type { ManifestError } from "../errors.ts";
import type { NotificationReceiver } from "../types.ts";
import { problemAt, type Rule } from "./catalog.ts";

/**
 * A receiver's identity within its Project or Environment: its `name`, or
 * without one a digest of where its URL and key are read and its format. It
 * survives reordering and removing other receivers, so a pending notification
 * goes to the receiver it was queued for or to none.
 */
export function receiverIdentity(receiver: NotificationReceiver): string {
  if (receiver.name) return receiver.name;
  const { urlFrom, signingSecretFrom, format } = receiver;
  const canonical = JSON.stringify([urlFrom.envFile ?? null, urlFrom.key ?? null, urlFrom.daemonEnv ?? null, signingSecretFrom?.envFile ?? null, signingSecretFrom?.key ?? null, signingSecretFrom?.daemonEnv ?? null, format ?? "json"]);
  return `sha256-${createHash("sha256").update(canonical).digest("hex").slice(0, 12)}`;
}

/**
 * Receivers of one Project or Environment have distinct identities: two with
 * the same name, or two unnamed ones reading the same URL and key in the same
 * format, could not be told apart by the outbox.
 */
export const receiversAreDistinct: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const parsed of [...catalog.byKind.Project.values(), ...catalog.byKind.Environment.values()]) {
    const seen = new Map<string, number>();
    parsed.resource.spec.notifications?.forEach((receiver, i) => {
      const id = receiverIdentity(receiver);
      const first = seen.get(id);
      if (first === undefined) return void seen.set(id, i);
      const problem = receiver.name ? `receiver name ${receiver.name} is already used by notifications[${first}]` : `notifications[${first}] reads the same urlFrom and signingSecretFrom in the same format, so the two cannot be told apart`;
      errors.push(problemAt(parsed, ["spec", "notifications", i, receiver.name ? "name" : "urlFrom"], problem, { expected: "a distinct name for each receiver of a Project or Environment", example: "name: ops-slack", target: receiver.name ? "value" : "key" }));
    });
  }
  return errors;
};
