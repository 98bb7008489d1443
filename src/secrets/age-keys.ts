import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { armor, Decrypter, identityToRecipient } from "age-encryption";
import { SopsError } from "./sops-cipher.ts";
import type { AgeStanza } from "./sops.ts";

/** Where the age identities come from, and how to name that place in a message. */
export interface AgeKeySource {
  file?: string;
  /** `--age-key-file` or `SOPS_AGE_KEY_FILE`. */
  origin: string;
}

/** --age-key-file wins; SOPS_AGE_KEY_FILE is the variable sops itself reads, so one key file serves both. */
export function ageKeySource(flag: string | undefined, env: NodeJS.ProcessEnv): AgeKeySource {
  if (flag) return { file: flag, origin: "--age-key-file" };
  if (env.SOPS_AGE_KEY_FILE) return { file: env.SOPS_AGE_KEY_FILE, origin: "SOPS_AGE_KEY_FILE" };
  return { origin: "--age-key-file" };
}

/** The data key is being unwrapped (age decryption is asynchronous); the model is rebuilt when it is ready. */
export class SopsKeyPendingError extends SopsError {
  constructor() {
    super("the file's data key is still being decrypted");
    this.name = "SopsKeyPendingError";
  }
}

type Outcome = { key: Uint8Array; error?: undefined } | { key?: undefined; error: SopsError };
type Unwrapped = Outcome & { usedInRound: number };
/** Data keys kept per (identities, file key stanzas) beyond those in use: enough for every secret file of a repository and a rotation. */
const MAX_KEYS = 512;

/**
 * Unwraps SOPS data keys with the operator's age identities. Model building is synchronous and age
 * is not, so a key not seen before is unwrapped in the background: `dataKey` throws
 * SopsKeyPendingError, and the caller waits for `settled()` and builds again. Keys and failures are
 * remembered per key file content, so a corrected key file is tried again at once.
 */
export class AgeKeyring {
  private readonly done = new Map<string, Unwrapped>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /**
   * Advances each time the unwrapping drains: a build that found keys missing builds again right
   * after, so a key asked for in this round or the one before is never evicted (a build needing
   * more than maxKeys keys would otherwise evict its own keys and wait for them forever).
   */
  private round = 0;

  constructor(
    private readonly source: AgeKeySource,
    private readonly readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
    private readonly maxKeys = MAX_KEYS,
  ) {}

  /** The data key wrapped in `stanzas`, if already unwrapped; otherwise starts unwrapping it and throws. */
  dataKey(stanzas: AgeStanza[]): Uint8Array {
    const identities = this.identities(stanzas);
    const id = createHash("sha256").update(JSON.stringify([identities, stanzas.map((s) => s.enc)])).digest("hex");
    const done = this.done.get(id);
    if (done) done.usedInRound = this.round;
    if (done?.error) throw done.error;
    if (done) return done.key;
    if (!this.inFlight.has(id)) {
      const work = unwrap(identities, stanzas, this.describe()).then((result) => {
        this.done.set(id, { ...result, usedInRound: this.round });
        this.inFlight.delete(id);
        if (!this.inFlight.size) this.drained();
      });
      this.inFlight.set(id, work);
    }
    throw new SopsKeyPendingError();
  }

  /** How many data keys (and failures) are remembered. */
  get size(): number {
    return this.done.size;
  }

  private drained(): void {
    this.round++;
    for (const [id, entry] of this.done) {
      if (this.done.size <= this.maxKeys) break;
      if (entry.usedInRound < this.round - 1) this.done.delete(id);
    }
  }

  /** True while a data key is being unwrapped. */
  pending(): boolean {
    return this.inFlight.size > 0;
  }

  /** Resolves once no data key is being unwrapped. */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight.values());
  }

  private describe(): string {
    return `${this.source.origin} ${this.source.file ?? ""}`.trim();
  }

  /** Read at every use: a key file replaced on disk takes effect without a restart. */
  private identities(stanzas: AgeStanza[]): string[] {
    const wanted = stanzas.map((s) => s.recipient).join(" or ");
    if (!this.source.file) throw new SopsError(`no age identity is configured; expected an age identity for recipient ${wanted} in --age-key-file FILE (or SOPS_AGE_KEY_FILE)`);
    let text: string;
    try {
      text = this.readFile(this.source.file);
    } catch (error) {
      throw new SopsError(`${this.describe()} cannot be read; expected an age key file (AGE-SECRET-KEY-1… lines, as age-keygen writes) holding the identity for recipient ${wanted}`, { cause: error });
    }
    const identities: string[] = [];
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      // The line itself is never quoted: it may be a private key.
      if (!line.startsWith("AGE-SECRET-KEY-")) throw new SopsError(`line ${i + 1} of ${this.describe()} is not an age identity; expected AGE-SECRET-KEY-1… lines as age-keygen writes them`);
      identities.push(line);
    });
    if (!identities.length) throw new SopsError(`${this.describe()} holds no age identity; expected an age identity for recipient ${wanted}`);
    return identities;
  }
}

async function unwrap(identities: string[], stanzas: AgeStanza[], where: string): Promise<Outcome> {
  try {
    const decrypter = new Decrypter();
    const mine: string[] = [];
    for (const identity of identities) {
      try {
        decrypter.addIdentity(identity);
        mine.push(await identityToRecipient(identity));
      } catch (error) {
        throw new SopsError(`${where} holds an identity that is not a valid age X25519 or hybrid identity; expected AGE-SECRET-KEY-1… as age-keygen writes`, { cause: error });
      }
    }
    const ours = stanzas.filter((s) => mine.includes(s.recipient));
    if (!ours.length) {
      throw new SopsError(`expected an age identity for recipient ${stanzas.map((s) => s.recipient).join(" or ")} in ${where}; it holds identities for ${mine.join(", ")}`);
    }
    let failure: unknown;
    for (const stanza of ours) {
      try {
        const key = await decrypter.decrypt(armor.decode(stanza.enc));
        if (key.length === 32) return { key };
        failure = new Error(`data key of ${key.length} bytes`);
      } catch (error) {
        failure = error;
      }
    }
    throw new SopsError(`the data key wrapped for ${ours.map((s) => s.recipient).join(", ")} does not decrypt with the identity in ${where}: the file's sops.age entry is damaged; expected the file as sops or berth secrets encrypt wrote it`, { cause: failure });
  } catch (error) {
    return { error: error instanceof SopsError ? error : new SopsError(`the data key cannot be decrypted with ${where}`, { cause: error }) };
  }
}
