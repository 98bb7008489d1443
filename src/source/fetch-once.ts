import type { Logger } from "../log/logger.ts";
import { GitFollower, type SourceObserver, type SourceStatus } from "./follower.ts";
import type { GitMirror } from "./git-mirror.ts";
import type { SignatureVerifier } from "./signatures.ts";

export class SourceNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SourceNotReadyError";
  }
}

/**
 * `apply --git`: one fetch, one signature check, one snapshot in force.
 * Throws with the source's own reason when the newest commit could not be
 * put in force (unreachable, unverified): nothing is applied then.
 */
export async function fetchOnce(git: { mirror: GitMirror; verifier?: SignatureVerifier }, log: Logger, observer?: SourceObserver): Promise<SourceStatus> {
  const follower = new GitFollower({ ...git, intervalMs: 0, log, observer, onCommit: async () => {} });
  const ok = await follower.init();
  const status = follower.current;
  const problems = status.conditions.filter((c) => c.status === "False").map((c) => c.message);
  // A refused newer commit fails the one-shot apply too: what was asked for is not what would run.
  if (!ok || problems.length > 0) throw new SourceNotReadyError(`${status.url} (${status.ref}): ${problems.join("; ") || "no commit in force"}`);
  return status;
}
