import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { GitCommandError, runGit } from "./git-command.ts";

const exec = promisify(execFile);

/** What `git verify-commit` made of one commit. */
export interface Verdict {
  verified: boolean;
  /** Who signed it, as far as git can tell (principal or user id, else the key). */
  signer?: string;
  key?: string;
  /** Why it was refused, for the condition, the event and the notification. */
  reason?: string;
}

export class SignatureSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SignatureSetupError";
  }
}

/**
 * Checks commit signatures against one trust file: an SSH allowed-signers
 * file (`gpg.ssh.allowedSignersFile`) or an armored GPG public keyring,
 * imported into a keyring of Berth's own so the operator's is never touched.
 */
export class SignatureVerifier {
  private readonly file: string;
  readonly kind: "ssh" | "gpg";
  private gnupgHome?: string;

  constructor(file: string, private readonly workDir: string) {
    this.file = resolve(file);
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (error) {
      throw new SignatureSetupError(`cannot read --verify-signatures ${file}; expected an SSH allowed-signers file or an armored GPG public keyring`, { cause: error });
    }
    this.kind = text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----") ? "gpg" : "ssh";
    if (this.kind === "ssh" && !/^\S+\s+(?:\S+\s+)?(ssh-|ecdsa-|sk-)/m.test(text)) {
      throw new SignatureSetupError(`--verify-signatures ${file} holds neither an armored GPG public key nor SSH allowed signers; expected lines like: alice@example.com ssh-ed25519 AAAAC3Nza… (see ssh-keygen(1), ALLOWED SIGNERS)`);
    }
  }

  /** A digest of the trust file now: a commit refused under other trust is checked again. */
  trustDigest(): string {
    try {
      return createHash("sha256").update(readFileSync(this.file)).digest("hex");
    } catch {
      return "unreadable";
    }
  }

  async verify(gitDir: string, commit: string): Promise<Verdict> {
    // Only the trust file counts: the daemon user's own git and gpg settings and keyrings are never consulted.
    const isolated = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };
    const signed = signatureKind(await runGit(["cat-file", "commit", commit], { gitDir, env: isolated }));
    if (signed && signed !== this.kind) {
      return { verified: false, reason: `it is signed with ${signed === "ssh" ? "an SSH key" : "GPG"}, but --verify-signatures holds ${this.kind === "ssh" ? "SSH allowed signers" : "a GPG keyring"}` };
    }
    const config: Record<string, string> = this.kind === "ssh" ? { "gpg.ssh.allowedSignersFile": this.file } : { "gpg.ssh.allowedSignersFile": "/dev/null" };
    const env = { ...isolated, GNUPGHOME: this.kind === "gpg" ? await this.keyring() : await this.emptyKeyring() };
    const [status = "N", signer = "", key = ""] = (await runGit(["log", "-1", "--format=%G?%n%GS%n%GK", commit], { gitDir, config, env })).split("\n");
    const who = signer || (key ? `key ${key}` : undefined);
    let ok = true;
    // git's own verdict decides; the format above only names the signer for people.
    await runGit(["verify-commit", commit], { gitDir, config, env }).catch((error: unknown) => {
      if (!(error instanceof GitCommandError)) throw error;
      ok = false;
    });
    // Only G (good, and trusted): for SSH, U means a valid signature by a key the allowed-signers file does not list.
    if (ok && status === "G") return { verified: true, signer: who, key: key || undefined };
    return { verified: false, signer: who, key: key || undefined, reason: refusal(status, who) };
  }

  /** SSH mode: a GNUPGHOME with no keys, so a GPG signature can never pass by the daemon user's keyring. */
  private async emptyKeyring(): Promise<string> {
    const home = join(this.workDir, "gnupg-empty");
    await mkdir(home, { recursive: true, mode: 0o700 });
    return home;
  }

  /** A GNUPGHOME holding exactly the trust file's keys, fully trusted; rebuilt when the file changes. */
  private async keyring(): Promise<string> {
    const text = readFileSync(this.file);
    const home = join(this.workDir, `gnupg-${createHash("sha256").update(text).digest("hex").slice(0, 12)}`);
    if (this.gnupgHome === home && existsSync(home)) return home;
    await mkdir(home, { recursive: true, mode: 0o700 });
    const env = { ...process.env, GNUPGHOME: home };
    try {
      await exec("gpg", ["--batch", "--quiet", "--import", this.file], { env });
      const { stdout } = await exec("gpg", ["--batch", "--with-colons", "--list-keys"], { env });
      const fingerprints = stdout.split("\n").filter((l) => l.startsWith("fpr:")).map((l) => l.split(":")[9]);
      await writeFile(join(home, "trust.txt"), fingerprints.map((f) => `${f}:6:\n`).join(""));
      await exec("gpg", ["--batch", "--quiet", "--import-ownertrust", join(home, "trust.txt")], { env });
    } catch (error) {
      throw new SignatureSetupError(`cannot import the GPG keys of --verify-signatures ${this.file}; expected gpg installed and an armored public keyring (gpg --armor --export KEYID)`, { cause: error });
    }
    this.gnupgHome = home;
    return home;
  }
}

/** Which kind of signature a raw commit object carries, from its gpgsig header. */
function signatureKind(raw: string): "ssh" | "gpg" | undefined {
  const header = raw.slice(0, raw.indexOf("\n\n") >>> 0);
  if (/^gpgsig(-sha256)? -----BEGIN SSH SIGNATURE-----/m.test(header)) return "ssh";
  if (/^gpgsig(-sha256)? -----BEGIN PGP SIGNATURE-----/m.test(header)) return "gpg";
  return undefined;
}

function refusal(status: string, who: string | undefined): string {
  switch (status) {
    case "N":
      return "the commit is not signed";
    case "U":
      return `signed by ${who ?? "an unknown key"}, which the allowed signers do not list`;
    case "E":
      return `signed by ${who ?? "a key"} that is not in the trusted keyring`;
    case "B":
      return `the signature by ${who ?? "an unknown key"} is bad (the commit was changed after signing)`;
    case "X":
    case "Y":
      return `the signature by ${who ?? "an unknown key"} has expired`;
    case "R":
      return `the signature was made by a revoked key (${who ?? "unknown"})`;
    default:
      return `git could not verify the signature (${status})`;
  }
}
