import { dirname, join } from "node:path";
import { Option } from "commander";
import { GitMirror } from "../source/git-mirror.ts";
import { SignatureVerifier } from "../source/signatures.ts";
import { databaseFile } from "../store/store.ts";
import { parseDurationFlag } from "./runtime.ts";

/** The git source flags of `run` and `apply`. */
export interface GitFlags {
  git?: string;
  gitRef?: string;
  gitPath: string;
  gitInterval: number;
  gitSshKey?: string;
  gitKnownHosts?: string;
  verifySignatures?: string;
  db: string;
}

/** A git source ready to follow: where it is cached, how it is checked, how often it is polled. */
export interface GitSetup {
  mirror: GitMirror;
  verifier?: SignatureVerifier;
  intervalMs: number;
}

export function gitOptions(): Option[] {
  return [
    new Option("--git <url>", "follow a git repository (ssh://, https://, file://) instead of reading DIR: each new commit of --git-ref is fetched into a cache next to the database and applied"),
    new Option("--git-ref <ref>", "branch, tag or commit to follow (default: the remote's HEAD)"),
    new Option("--git-path <dir>", "the manifests directory inside the repository").default("."),
    new Option("--git-interval <duration>", "fetch this often (a webhook to /hooks/git fetches at once)").default(60_000, "1m").argParser(parseDurationFlag),
    new Option("--git-ssh-key <file>", "private deploy key for ssh:// URLs"),
    new Option("--git-known-hosts <file>", "known_hosts holding the git server's host key (default: the user's ~/.ssh/known_hosts; an unknown host key is always refused)"),
    new Option("--verify-signatures <file>", "apply only commits signed by a key in FILE: an SSH allowed-signers file or an armored GPG public keyring"),
  ];
}

/** The git source the flags ask for, or undefined without --git. */
export function gitSetup(flags: GitFlags): GitSetup | undefined {
  if (!flags.git) {
    const stray = (["gitRef", "gitSshKey", "gitKnownHosts", "verifySignatures"] as const).find((k) => flags[k] !== undefined);
    if (stray) throw new Error(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --git; expected e.g. --git ssh://git@example.com/ops/manifests.git`);
    return undefined;
  }
  // The cache lives beside the database: the data directory an operator already backs up and keeps private.
  const dbFile = databaseFile(flags.db);
  const root = join(dbFile ? dirname(dbFile) : ".berth", "git");
  const mirror = new GitMirror({ url: flags.git, ref: flags.gitRef, path: flags.gitPath, sshKey: flags.gitSshKey, knownHosts: flags.gitKnownHosts }, root);
  const verifier = flags.verifySignatures ? new SignatureVerifier(flags.verifySignatures, root) : undefined;
  return { mirror, verifier, intervalMs: flags.gitInterval };
}
