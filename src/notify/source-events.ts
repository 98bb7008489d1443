import { createHash } from "node:crypto";
import type { SourceObserver } from "../source/follower.ts";
import type { Notifier } from "./notifier.ts";

/**
 * The git source's failures and refused commits as notifications: a refused
 * commit once, a failure once per distinct cause within one outage (it starts
 * when SourceReady turned False), also across restarts.
 */
export function sourceNotifications(notifier: Pick<Notifier, "notify">): SourceObserver {
  return {
    sourceProblem(status, problem) {
      const cause = createHash("sha256").update(`${problem.reason}\n${problem.message}`).digest("hex").slice(0, 16);
      const since = problem.event === "source.failed" ? (status.conditions.find((c) => c.type === "SourceReady")?.lastTransitionTime ?? 0) : 0;
      void notifier.notify({ event: problem.event, commit: problem.commit ?? status.commit, message: problem.message, dedupeKey: `${problem.event}:${problem.commit ?? status.commit ?? ""}:${cause}:${since}` });
    },
  };
}
