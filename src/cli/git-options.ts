import { dirname, join } from "node:path";
import { Option } from "commander";
import { urlCredential } from "../source/git-command.ts";
import { GitMirror } from "../source/git-mirror.ts";
import { SignatureVerifier } from "../source/signatures.ts";
import { databaseFile } from "../store/defaults.ts";
import { parseDurationFlag } from "./options.ts";

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
  /** A password or token in the URL, to be masked in every sink. */
  credential?: string;
}

/** Polling faster than this gains nothing and keeps a git process running all the time. */
const MIN_INTERVAL_MS = 1_000;

export function gitOptions(): Option[] {
  return [
    new Option("--git <url>", "follow a git repository (ssh://, https://, file://) instead of reading DIR: each new commit of --git-ref is fetched into a cache next to the database and applied"),
    new Option("--git-ref <ref>", "branch, tag or full 40-hex commit to follow (default: the remote's HEAD)"),
    new Option("--git-path <dir>", "the manifests directory inside the repository").default("."),
    new Option("--git-interval <duration>", "fetch this often (a webhook to /hooks/git fetches at once)").default(60_000, "1m").argParser(parseDurationFlag),
    new Option("--git-ssh-key <file>", "private deploy key for ssh:// URLs"),
    new Option("--git-known-hosts <file>", "known_hosts holding the git server's host key (default: the user's ~/.ssh/known_hosts; an unknown host key is always refused)"),
    new Option("--verify-signatures <file>", "apply only commits signed by a key in FILE: an SSH allowed-signers file or an armored GPG public keyring"),
  ];
}

/** The git source the flags ask for, or undefined without --git. */
export function gitSetup(flags: GitFlags, role: "daemon" | "apply" = "daemon"): GitSetup | undefined {
  if (!flags.git) {
    const stray = (["gitRef", "gitSshKey", "gitKnownHosts", "verifySignatures"] as const).find((k) => flags[k] !== undefined);
    if (stray) throw new Error(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --git; expected e.g. --git ssh://git@example.com/ops/manifests.git`);
    return undefined;
  }
  // Neither may be taken for an option of git.
  if (flags.git.startsWith("-")) throw new Error(`--git ${flags.git} is not a repository URL; expected e.g. ssh://git@example.com/ops/manifests.git`);
  if (flags.gitRef?.startsWith("-")) throw new Error(`--git-ref ${flags.gitRef} is not a ref; expected a branch, tag or full commit, e.g. --git-ref main`);
  if (flags.gitInterval < MIN_INTERVAL_MS) throw new Error("--git-interval must be at least 1s; expected e.g. --git-interval 1m (a webhook fetches at once anyway)");
  // The cache lives beside the database: the data directory an operator already backs up and keeps private.
  const dbFile = databaseFile(flags.db);
  const root = join(dbFile ? dirname(dbFile) : ".berth", "git");
  const mirror = new GitMirror({ url: flags.git, ref: flags.gitRef, path: flags.gitPath, sshKey: flags.gitSshKey, knownHosts: flags.gitKnownHosts }, root, role);
  const verifier = flags.verifySignatures ? new SignatureVerifier(flags.verifySignatures, root) : undefined;
  return { mirror, verifier, intervalMs: flags.gitInterval, credential: urlCredential(flags.git) };
}
