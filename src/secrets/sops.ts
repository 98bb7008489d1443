import { randomBytes } from "node:crypto";
import { armor, Encrypter } from "age-encryption";
import { goRegExp } from "./go-regexp.ts";
import { additionalData, computeMac, decryptValue, encryptValue, goNumber, isEncryptedValue, macAdditionalData, NumberSpellingError, NumberText, SopsError, type Scalar } from "./sops-cipher.ts";
import type { SopsTree } from "./sops-document.ts";

/** The data key wrapped for one age recipient (`sops.age[]`). */
export interface AgeStanza {
  recipient: string;
  enc: string;
}

/**
 * The version written into new files. It names the SOPS release whose output the tests compare
 * against (test/fixtures/sops), so SOPS treats the files as current.
 */
export const SOPS_FORMAT_VERSION = "3.13.1";
const DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted";

/** True for a tree SOPS encrypted: it carries a `sops` section (whose MAC decryptTree requires). */
export function isSopsTree(tree: SopsTree): boolean {
  return !!tree.metadata;
}

/** A `sops` section without a MAC is a damaged file, never a plain one: its values would reach containers as ENC[…]. */
export function checkMetadata(tree: SopsTree): void {
  const mac = tree.metadata?.mac;
  if (typeof mac !== "string" || !mac.startsWith("ENC[")) {
    throw new SopsError(`the file has a sops section but no MAC (sops.mac${tree.format === "dotenv" ? ", the sops_mac= line" : ""}); expected a file as sops or berth secrets encrypt wrote it, or a plain file without a sops section`);
  }
}

/** The age recipients a file's data key is wrapped for; other key kinds (PGP, KMS) are not read here. */
export function ageStanzas(tree: SopsTree): AgeStanza[] {
  const metadata = tree.metadata ?? {};
  if (metadata.key_groups) throw new SopsError("the data key is split into key groups (Shamir), which Berth does not read; expected a file encrypted to age recipients without key groups");
  const age = Array.isArray(metadata.age) ? (metadata.age as Partial<AgeStanza>[]) : [];
  const stanzas = age.filter((a): a is AgeStanza => typeof a.recipient === "string" && typeof a.enc === "string");
  if (!stanzas.length) {
    const others = Object.keys(metadata).filter((k) => ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"].includes(k) && metadata[k]);
    throw new SopsError(`the file is encrypted for no age recipient${others.length ? ` (only ${others.join(", ")})` : ""}; expected one made with sops --age or berth secrets encrypt --age`);
  }
  return stanzas;
}

interface Rules {
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: RegExp;
  encryptedRegex?: RegExp;
  macOnlyEncrypted: boolean;
}

function rulesOf(metadata: Record<string, unknown>): Rules {
  if (metadata.unencrypted_comment_regex || metadata.encrypted_comment_regex) {
    throw new SopsError("the file chooses what to encrypt by comments (encrypted_comment_regex), which Berth does not read; expected a file encrypted by key names");
  }
  const text = (key: string) => (typeof metadata[key] === "string" && metadata[key] !== "" ? (metadata[key] as string) : undefined);
  const regex = (key: string) => (text(key) ? goRegExp(text(key)!, key) : undefined);
  return {
    unencryptedSuffix: text("unencrypted_suffix"),
    encryptedSuffix: text("encrypted_suffix"),
    unencryptedRegex: regex("unencrypted_regex"),
    encryptedRegex: regex("encrypted_regex"),
    macOnlyEncrypted: metadata.mac_only_encrypted === true || metadata.mac_only_encrypted === "true",
  };
}

/** Which values SOPS encrypts, by the keys on their path (the same precedence as SOPS). */
function encrypts(path: string[], rules: Rules): boolean {
  let encrypted = true;
  if (rules.unencryptedSuffix && path.some((k) => k.endsWith(rules.unencryptedSuffix!))) encrypted = false;
  if (rules.encryptedSuffix) encrypted = path.some((k) => k.endsWith(rules.encryptedSuffix!));
  if (rules.unencryptedRegex && path.some((k) => rules.unencryptedRegex!.test(k))) encrypted = false;
  if (rules.encryptedRegex) encrypted = path.some((k) => rules.encryptedRegex!.test(k));
  return encrypted;
}

/** Decrypts every value in place with the data key, then checks the file's MAC over the cleartext. */
export function decryptTree(tree: SopsTree, dataKey: Uint8Array): void {
  checkMetadata(tree);
  const metadata = tree.metadata ?? {};
  const rules = rulesOf(metadata);
  const authenticated: Scalar[] = [];
  for (const leaf of tree.leaves) {
    const encrypted = encrypts(leaf.path, rules);
    if (encrypted) {
      if (typeof leaf.value !== "string") throw new SopsError(`value at ${leaf.path.join(":")} is not encrypted although the file's rules say it should be; expected ENC[AES256_GCM,…]`);
      leaf.set(decryptValue(leaf.value, dataKey, additionalData(leaf.path)));
    }
    if (encrypted || !rules.macOnlyEncrypted) authenticated.push(leaf.value);
  }
  const lastModified = String(metadata.lastmodified ?? "");
  let stored: Scalar;
  try {
    stored = decryptValue(String(metadata.mac), dataKey, macAdditionalData(lastModified));
  } catch (error) {
    throw new SopsError("the file's MAC does not decrypt: its lastmodified or mac was changed after encryption", { cause: error });
  }
  if (stored !== computeMac(authenticated, rules.macOnlyEncrypted)) {
    throw new SopsError("MAC mismatch: the file's values were changed, added, removed or reordered after encryption; expected a file as sops or berth secrets encrypt wrote it");
  }
}

/** Encrypts a plain tree for the age recipients and returns the file text, in SOPS' format. */
export async function encryptTree(tree: SopsTree, recipients: string[], now = new Date()): Promise<string> {
  if (tree.metadata) throw new SopsError("the file already has a sops section; expected a plain file");
  if (!recipients.length) throw new SopsError("no recipient; expected at least one --age age1…");
  const dataKey = randomBytes(32);
  const rules: Rules = { unencryptedSuffix: DEFAULT_UNENCRYPTED_SUFFIX, macOnlyEncrypted: false };
  const authenticated: Scalar[] = [];
  for (const leaf of tree.leaves) {
    // Clear values count in the MAC as Go reads them back, so a respelled number would break it too.
    if (leaf.value instanceof NumberText && goNumber(leaf.value.text)?.text !== leaf.value.text) throw new NumberSpellingError(leaf.path.join(":"));
    authenticated.push(leaf.value);
    if (!encrypts(leaf.path, rules)) continue;
    if (isEncryptedValue(leaf.value)) throw new SopsError(`value at ${leaf.path.join(":")} is already encrypted; expected a plain file`);
    leaf.set(encryptValue(leaf.value, dataKey, additionalData(leaf.path)));
  }
  const lastModified = now.toISOString().replace(/\.\d+Z$/, "Z");
  const age: AgeStanza[] = [];
  for (const recipient of recipients) {
    const encrypter = new Encrypter();
    try {
      encrypter.addRecipient(recipient);
    } catch (error) {
      throw new SopsError(`"${recipient}" is not an age recipient; expected e.g. age1… as age-keygen prints it`, { cause: error });
    }
    age.push({ recipient, enc: armor.encode(await encrypter.encrypt(dataKey)) });
  }
  return tree.emit({
    age,
    lastmodified: lastModified,
    mac: encryptValue(computeMac(authenticated), dataKey, macAdditionalData(lastModified)),
    unencrypted_suffix: DEFAULT_UNENCRYPTED_SUFFIX,
    version: SOPS_FORMAT_VERSION,
  });
}
