import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readlinkSync } from "node:fs";
import { chmod, lstat, mkdir, readdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { extract } from "tar-fs";
import { GitCommandError, publicUrl, runGit, scrubCredentials } from "./git-command.ts";

/** Where manifests come from when they come from git. */
export interface GitSourceSpec {
  /** ssh://, https:// or file:// (scp-like `user@host:path` works too: it is git's). */
  url: string;
  /** Branch, tag or commit; undefined follows the remote's HEAD. */
  ref?: string;
  /** The manifests directory inside the repository. */
  path: string;
  /** Deploy key for ssh URLs. */
  sshKey?: string;
  /** known_hosts for ssh URLs; without it the daemon user's own known_hosts is used, strictly. */
  knownHosts?: string;
}

/** One commit as git describes it. */
export interface CommitInfo {
  commit: string;
  subject: string;
  committedAt: number;
}

const SHA = /^[0-9a-f]{40}$/i;
/** The one local ref the followed remote ref is fetched into. */
const TARGET_REF = "refs/berth/target";

/**
 * A bare cache of one remote repository under the data directory, and
 * read-only snapshots of the commits checked out of it. `current` is a
 * symlink to the snapshot in force, swapped atomically, so readers always see
 * one whole commit and a failed fetch or checkout leaves the last good one.
 */
export class GitMirror {
  readonly gitDir: string;
  readonly current: string;
  private readonly snapshots: string;

  constructor(
    readonly spec: GitSourceSpec,
    /** The data directory's folder for git sources; each URL and ref gets its own cache in it. */
    root: string,
    /** `apply` keeps a cache of its own, so a one-shot command never swaps the daemon's snapshot. */
    role: "daemon" | "apply" = "daemon",
  ) {
    const key = JSON.stringify([publicUrl(spec.url), spec.ref ?? "HEAD", role]);
    const dir = join(root, createHash("sha256").update(key).digest("hex").slice(0, 16));
    this.gitDir = join(dir, "repo.git");
    this.current = join(dir, "current");
    this.snapshots = join(dir, "snapshots");
  }

  /** The manifests directory readers load: inside `current`, so it stays the same path from commit to commit. */
  get manifestsDir(): string {
    return join(this.current, this.spec.path);
  }

  /** The ref as shown: the one given, or the remote's HEAD. */
  get refName(): string {
    return this.spec.ref ?? "HEAD";
  }

  /** Fetches the followed ref (force: rewinds and force-pushes are followed) and returns the commit it points to. */
  async fetch(signal?: AbortSignal, timeoutMs = 120_000): Promise<string> {
    if (!existsSync(join(this.gitDir, "HEAD"))) {
      await mkdir(this.gitDir, { recursive: true, mode: 0o700 });
      await runGit(["init", "--quiet", "--bare", this.gitDir]);
    }
    const ref = this.spec.ref ?? "HEAD";
    await runGit(["fetch", "--quiet", "--force", "--no-tags", "--no-write-fetch-head", "--", this.spec.url, `+${ref}:${TARGET_REF}`], { gitDir: this.gitDir, env: this.sshEnv(), timeoutMs, signal });
    const commit = (await runGit(["rev-parse", "--verify", `${TARGET_REF}^{commit}`], { gitDir: this.gitDir })).trim();
    if (SHA.test(ref) && !commit.startsWith(ref.toLowerCase())) throw new GitCommandError(`the remote gave ${commit} for commit ${ref}`, "");
    return commit;
  }

  async describe(commit: string): Promise<CommitInfo> {
    const [subject = "", time = "0"] = (await runGit(["log", "-1", "--format=%s%n%ct", commit], { gitDir: this.gitDir })).split("\n");
    return { commit, subject, committedAt: Number(time) * 1000 };
  }

  /** The commit `current` points to, if any snapshot was ever put in force (also by an earlier run) and holds the manifests directory. */
  async inForce(): Promise<string | undefined> {
    try {
      const commit = (await readlink(this.current)).split("/").pop()!;
      return SHA.test(commit) && existsSync(join(this.snapshots, commit, this.spec.path)) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  /** The commit whose snapshot `current` points to right now, read synchronously (what a load is reading). */
  currentCommit(): string | undefined {
    try {
      const commit = readlinkSync(this.current).split("/").pop()!;
      return SHA.test(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  /** Checks the commit out into its own read-only snapshot (once) and makes it `current`; older snapshots but the previous one are removed. */
  async activate(commit: string): Promise<void> {
    const dir = join(this.snapshots, commit);
    if (!existsSync(dir)) {
      const partial = `${dir}.partial`;
      await removeTree(partial);
      await mkdir(partial, { recursive: true, mode: 0o700 });
      const missing = () => new GitCommandError(`commit ${commit.slice(0, 12)} has no directory ${this.spec.path}; expected --git-path to name the manifests directory inside the repository`, "");
      try {
        await this.extract(commit, partial);
      } catch (error) {
        await removeTree(partial);
        throw error instanceof GitCommandError && /did not match any files/.test(error.stderr) ? missing() : error;
      }
      if (!existsSync(join(partial, this.spec.path))) {
        await removeTree(partial);
        throw missing();
      }
      await makeReadOnly(partial);
      await rename(partial, dir);
    }
    const previous = await this.inForce();
    const link = `${this.current}.next`;
    await rm(link, { force: true });
    await symlink(join("snapshots", commit), link);
    await rename(link, this.current);
    // Best effort: the new commit is in force; what is left is removed at the next swap.
    for (const entry of await readdir(this.snapshots).catch(() => [])) {
      if (entry !== commit && entry !== previous) await removeTree(join(this.snapshots, entry)).catch(() => undefined);
    }
  }

  private async extract(commit: string, into: string): Promise<void> {
    // Only the manifests directory: what lies elsewhere in the repository (a symlink out of it, large assets) is never read.
    const paths = this.spec.path === "." ? [] : ["--", this.spec.path];
    const child = spawn("git", [`--git-dir=${this.gitDir}`, "archive", "--format=tar", commit, ...paths], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const exited = new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => resolve(code ?? 1));
    });
    try {
      await pipeline(child.stdout, extract(into, { readable: true }));
    } catch (error) {
      child.kill();
      throw new GitCommandError(`unpacking the snapshot failed: ${(error as Error).message}`, stderr, { cause: error });
    }
    const code = await exited;
    if (code !== 0) throw new GitCommandError(`git archive failed: ${scrubCredentials(stderr.trim()) || `it exited with ${code}`}`, stderr);
  }

  /** ssh that never asks and never trusts an unknown host key: a deploy key and a known_hosts file when given. */
  private sshEnv(): NodeJS.ProcessEnv | undefined {
    const { sshKey, knownHosts } = this.spec;
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const args = ["ssh", "-o BatchMode=yes", "-o StrictHostKeyChecking=yes"];
    if (sshKey) args.push(`-i ${quote(sshKey)}`, "-o IdentitiesOnly=yes");
    if (knownHosts) args.push(`-o UserKnownHostsFile=${quote(knownHosts)}`);
    return { GIT_SSH_COMMAND: args.join(" ") };
  }
}

/** Files 0444 and folders 0555: nothing that reads a snapshot can change it by mistake. */
async function makeReadOnly(path: string): Promise<void> {
  const stat = await lstat(path);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    for (const entry of await readdir(path)) await makeReadOnly(join(path, entry));
    await chmod(path, 0o555);
  } else await chmod(path, stat.mode & 0o111 ? 0o555 : 0o444);
}

/** Removes a snapshot: its folders are read-only, so they are made writable first. */
async function removeTree(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat) return;
  if (stat.isDirectory()) {
    await chmod(path, 0o700);
    for (const entry of await readdir(path)) await removeTree(join(path, entry));
  }
  await rm(path, { recursive: true, force: true });
}
