import { createHash } from "node:crypto";
import type { SourceObserver } from "../source/follower.ts";
import type { Notifier } from "./notifier.ts";

/** The git source's failures and refused commits as notifications: once per distinct cause and commit, also across restarts. */
export function sourceNotifications(notifier: Pick<Notifier, "notify">): SourceObserver {
  return {
    sourceProblem(status, problem) {
      const cause = createHash("sha256").update(`${problem.reason}\n${problem.message}`).digest("hex").slice(0, 16);
      void notifier.notify({ event: problem.event, commit: problem.commit ?? status.commit, message: problem.message, dedupeKey: `${problem.event}:${problem.commit ?? status.commit ?? ""}:${cause}` });
    },
  };
}
