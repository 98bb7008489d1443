import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** A SOPS file that cannot be opened: malformed, tampered with, or for keys this host lacks. */
export class SopsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SopsError";
  }
}

/**
 * A number as its file spells it. A JS double holds neither every int64 (1234567890123456789) nor
 * the spelling (0123), so the text is kept, and it is what the environment and the MAC get.
 */
export class NumberText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** A leaf value of a SOPS tree, as YAML, JSON or dotenv give it. */
export type Scalar = string | boolean | NumberText;

const ENCRYPTED = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;
/** SOPS writes 32-byte nonces (GCM accepts any length: it hashes the nonce first). */
const IV_BYTES = 32;
const TAG_BYTES = 16;

export function isEncryptedValue(value: unknown): value is string {
  return typeof value === "string" && ENCRYPTED.test(value);
}

/** The additional data a value is bound to: its keys joined with ":", and a final ":". */
export function additionalData(path: readonly string[]): string {
  return `${path.join(":")}:`;
}

/** Decrypts one `ENC[AES256_GCM,…]` value with the data key; `aad` binds it to its place in the tree. */
export function decryptValue(text: string, key: Uint8Array, aad: string): Scalar {
  // SOPS leaves empty values empty rather than encrypting them.
  if (text === "") return "";
  const match = ENCRYPTED.exec(text);
  if (!match) throw new SopsError(`value is not in SOPS' format; expected ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`);
  const [, data, iv, tag, type] = match as unknown as [string, string, string, string, string];
  let clear: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    clear = Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]);
  } catch (error) {
    throw new SopsError(`value at ${aad.slice(0, -1) || "(root)"} does not decrypt with the file's data key: it was changed or moved after encryption`, { cause: error });
  }
  return typed(clear.toString("utf8"), type, aad);
}

function typed(text: string, type: string, aad: string): Scalar {
  switch (type) {
    case "str":
    case "bytes":
    case "time":
      return text;
    case "int":
    case "float":
      // Kept as decrypted: SOPS wrote it as Go prints the number, which is what the MAC covers.
      if (text.trim() === "" || Number.isNaN(Number(text))) throw new SopsError(`value at ${aad.slice(0, -1)} is typed ${type} but is not a number`);
      return new NumberText(text);
    case "bool":
      // The spellings Go's strconv.ParseBool accepts, which is what SOPS uses.
      if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
      if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
      throw new SopsError(`value at ${aad.slice(0, -1)} is typed bool but is not a boolean`);
    default:
      throw new SopsError(`value at ${aad.slice(0, -1)} has the unknown SOPS type "${type}"; expected str, int, float, bool or bytes`);
  }
}

/** Encrypts one value as SOPS does: a fresh 32-byte nonce, the tree path as additional data. */
export function encryptValue(value: Scalar, key: Uint8Array, aad: string): string {
  const text = macText(value);
  if (text === "") return "";
  const number = value instanceof NumberText ? goNumber(value.text) : undefined;
  if (value instanceof NumberText && number?.text !== value.text) throw new NumberSpellingError(aad.slice(0, -1));
  const type = typeof value === "string" ? "str" : typeof value === "boolean" ? "bool" : number!.type;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const data = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${cipher.getAuthTag().toString("base64")},type:${type}]`;
}

/** A number SOPS would store as another number than the file spells (the value is not quoted: it may be secret). */
export class NumberSpellingError extends SopsError {
  constructor(path: string) {
    const name = path.split(":").at(-1);
    super(`value at ${path} is a number that sops would not keep as written (Go drops leading zeros, "+", "_" and trailing zeros, reads 0… as octal, and holds ints in 64 bits); quote it to keep it as text, e.g. ${name}: "…"`);
    this.name = "NumberSpellingError";
  }
}

/** The text SOPS writes for a value, both as plaintext under encryption and as MAC input. */
export function macText(value: Scalar): string {
  if (typeof value === "boolean") return value ? "True" : "False";
  if (value instanceof NumberText) return goNumber(value.text)?.text ?? value.text;
  return value;
}

/**
 * A number as SOPS holds it (Go reads YAML and JSON numbers into an int64 or a float64, and prints
 * the float in plain decimals), or undefined for a spelling that Berth does not map onto Go's reading
 * (0x…, 0o…, a leading 0 that YAML reads as octal, 1_000, an int beyond 64 bits, .inf).
 */
export function goNumber(text: string): { type: "int" | "float"; text: string } | undefined {
  if (/^-?\d+$/.test(text)) {
    const int = BigInt(text);
    if (/^-?0\d/.test(text) || int < -(2n ** 63n) || int >= 2n ** 63n) return undefined;
    return { type: "int", text: String(int) };
  }
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  const float = Number(text);
  return Number.isFinite(float) ? { type: "float", text: goFloatText(float) } : undefined;
}

/** Go's strconv.FormatFloat(f, 'f', -1, 64): the shortest digits that read back, without an exponent. */
function goFloatText(float: number): string {
  if (Object.is(float, -0)) return "-0";
  const [mantissa, exponent] = Math.abs(float).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const point = Number(exponent) + 1;
  const body = point <= 0 ? `0.${"0".repeat(-point)}${digits}` : point >= digits.length ? digits + "0".repeat(point - digits.length) : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (float < 0 ? "-" : "") + body;
}

/**
 * The MAC SOPS keeps: SHA-512 over every cleartext value in document order, upper-case hex.
 * With `macOnlyEncrypted` only encrypted values count, after a fixed prefix that keeps the two kinds apart.
 */
export function computeMac(values: Iterable<Scalar>, macOnlyEncrypted = false): string {
  const hash = createHash("sha512");
  if (macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_PREFIX);
  for (const value of values) hash.update(macText(value), "utf8");
  return hash.digest("hex").toUpperCase();
}

/** The fixed 32 bytes SOPS hashes first when only encrypted values are authenticated. */
const MAC_ONLY_ENCRYPTED_PREFIX = Buffer.from("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69", "hex");

/** The additional data of the MAC: `lastmodified` in RFC 3339 with whole seconds, as SOPS re-formats it. */
export function macAdditionalData(lastModified: string): string {
  return lastModified.replace(/\.\d+(?=Z|[+-]\d\d:\d\d$)/, "");
}
