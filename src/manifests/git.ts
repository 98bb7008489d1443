import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The git commit a manifests directory is at, and whether it has uncommitted edits. */
export interface GitRevision {
  commit: string;
  dirty: boolean;
}

/** Reads the revision of the work tree containing `dir`; undefined outside git or without git. */
export async function readGitRevision(dir: string): Promise<GitRevision | undefined> {
  try {
    const { stdout: commit } = await run("git", ["-C", dir, "rev-parse", "--verify", "HEAD"], { timeout: 5_000 });
    const { stdout: status } = await run("git", ["-C", dir, "status", "--porcelain", "--", "."], { timeout: 5_000 });
    return { commit: commit.trim(), dirty: status.trim().length > 0 };
  } catch {
    return undefined; // not a work tree, no commits yet, or no git: the revision is simply unknown
  }
}
