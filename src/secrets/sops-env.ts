import { parseEnv } from "node:util";
import type { AgeKeyring } from "./age-keys.ts";
import { ageStanzas, checkMetadata, decryptTree } from "./sops.ts";
import { NumberText, SopsError, type Scalar } from "./sops-cipher.ts";
import { binaryData, parseTree, sopsFormatIn, storeOf, type SopsTree } from "./sops-document.ts";

/**
 * Opens env files: SOPS-encrypted ones (dotenv, YAML, JSON, binary) are decrypted in memory with
 * the keyring's age identities and their MAC checked; plain YAML and JSON files are read as maps.
 * A SOPS file is known by its content, whatever its name (sops picks by name, so `db.secret` or
 * `.env.production` is in its binary format). Returns undefined for a plain dotenv file, which the
 * caller reads as it always has.
 */
export class SopsEnvFiles {
  constructor(private readonly keyring: AgeKeyring) {}

  open(text: string, file: string): Record<string, string> | undefined {
    const store = storeOf(file);
    const format = store === "yaml" || store === "json" ? store : sopsFormatIn(text);
    if (!format) return undefined;
    const tree = parseTree(text, format);
    if (!tree.metadata) return envOf(tree);
    checkMetadata(tree);
    decryptTree(tree, this.keyring.dataKey(ageStanzas(tree)));
    // The binary format holds the file itself, which is dotenv text read as a plain env file would be.
    const data = store === "json" ? undefined : binaryData(tree);
    return data === undefined ? envOf(tree) : (parseEnv(data) as Record<string, string>);
  }
}

/** Names and values as an environment: a dotenv tree's values as sops reads them (literal, `\n` a line break), the last of a name winning. */
function envOf(tree: SopsTree): Record<string, string> {
  return Object.fromEntries(
    tree.entries().map(([name, value]) => {
      if (value !== null && typeof value === "object" && !(value instanceof NumberText)) throw new SopsError(`${name} holds a ${Array.isArray(value) ? "list" : "map"}; expected one value per name, e.g. ${name}: secret`);
      return [name, value === null ? "" : String(value as Scalar)];
    }),
  );
}

/**
 * A plain dotenv file (read as Berth reads plain env files: quotes, `#` comments, multi-line quoted
 * values) as a tree in sops' dotenv format with the same values, for encryption: one line per
 * name, a line break written `\n`. Refuses, by line number only, a value sops cannot hold as read.
 */
export function plainDotenvTree(text: string): SopsTree {
  const values = parseEnv(text) as Record<string, string>;
  const lines = text.split("\n");
  const lineOf = (name: string) => {
    const at = lines.findLastIndex((line) => new RegExp(`^\\s*(export\\s+)?${name.replace(/[^\w]/g, "\\$&")}\\s*=`).test(line));
    return at < 0 ? "" : `line ${at + 1}: `;
  };
  const out: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    if (value.includes("\\n")) {
      throw new SopsError(`${lineOf(name)}the value of ${name} holds a backslash followed by n, which sops' dotenv format reads as a line break; expected a real line break (e.g. "…\\n…" in double quotes), or a file name without .env (e.g. db.secret) to encrypt the file whole in sops' binary format`);
    }
    if (name.startsWith("#") || name.startsWith("sops_") || name === "") throw new SopsError(`${lineOf(name)}the name ${name} cannot be written in sops' dotenv format; expected a name not starting with # or sops_`);
    out.push(`${name}=${value.replaceAll("\n", "\\n")}`);
  }
  return parseTree(out.length ? `${out.join("\n")}\n` : "", "dotenv");
}
