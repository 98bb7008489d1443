import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** How a test commit is signed: an SSH key (`gpg.format=ssh`) or a GPG key in its own GNUPGHOME. */
export type Signing = { ssh: string } | { gpgHome: string; keyId: string };

/** A bare repository (what the daemon follows) and a work tree that commits and pushes to it. */
export interface TestGitRepo {
  root: string;
  bare: string;
  work: string;
  /** Writes files (relative to the work tree), commits them (signed when asked) and pushes; returns the commit. */
  commit(files: Record<string, string>, message: string, signing?: Signing): string;
  /** Moves the branch back to an older commit and force-pushes it (a rewind). */
  rewind(commit: string): void;
  cleanup(): void;
}

export function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, GIT_AUTHOR_NAME: "Ops", GIT_AUTHOR_EMAIL: "ops@example.com", GIT_COMMITTER_NAME: "Ops", GIT_COMMITTER_EMAIL: "ops@example.com", ...env } }).trim();
}

export function createGitRepo(): TestGitRepo {
  const root = mkdtempSync(join(tmpdir(), "berth-git-"));
  const bare = join(root, "repo.git");
  const work = join(root, "work");
  execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", work]);
  git(work, ["remote", "add", "origin", bare]);
  return {
    root,
    bare,
    work,
    commit(files, message, signing) {
      for (const [file, content] of Object.entries(files)) {
        mkdirSync(dirname(join(work, file)), { recursive: true });
        writeFileSync(join(work, file), content);
      }
      git(work, ["add", "--all"]);
      const sign = !signing ? [] : "ssh" in signing ? ["-c", "gpg.format=ssh", "-c", `user.signingkey=${signing.ssh}`] : ["-c", `user.signingkey=${signing.keyId}`];
      const env = signing && "gpgHome" in signing ? { GNUPGHOME: signing.gpgHome } : {};
      git(work, [...sign, "commit", "--quiet", "--allow-empty", ...(signing ? ["-S"] : []), "-m", message], env);
      git(work, ["push", "--quiet", "--force", "origin", "main"]);
      return git(work, ["rev-parse", "HEAD"]);
    },
    rewind(commit) {
      git(work, ["reset", "--quiet", "--hard", commit]);
      git(work, ["push", "--quiet", "--force", "origin", "main"]);
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** An ed25519 key pair for signing; returns the private key's path. */
export function sshSigningKey(dir: string, name: string): string {
  const key = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key]);
  return key;
}

/** A GPG key in its own GNUPGHOME, and its armored public key. */
export function gpgSigningKey(dir: string, uid: string): { gpgHome: string; keyId: string; armored: string } {
  const gpgHome = join(dir, `gnupg-${uid.replace(/\W/g, "")}`);
  mkdirSync(gpgHome, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: gpgHome };
  execFileSync("gpg", ["--batch", "--quiet", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"], { env, stdio: "pipe" });
  const keyId = execFileSync("gpg", ["--batch", "--with-colons", "--list-keys", uid], { env, encoding: "utf8" }).split("\n").find((l) => l.startsWith("fpr:"))!.split(":")[9]!;
  const armored = execFileSync("gpg", ["--batch", "--armor", "--export", keyId], { env, encoding: "utf8" });
  return { gpgHome, keyId, armored };
}
