import { parseEnv } from "node:util";
import type { AgeKeyring } from "./age-keys.ts";
import { ageStanzas, decryptTree, isSopsTree } from "./sops.ts";
import { SopsError, type Scalar } from "./sops-cipher.ts";
import { formatOf, parseTree, type SopsTree } from "./sops-document.ts";

/** A dotenv file is SOPS' when it carries the MAC line; anything else is left to the plain dotenv reader. */
const SOPS_DOTENV = /^sops_mac=/m;

/**
 * Opens env files: SOPS-encrypted ones (dotenv, YAML, JSON) are decrypted in memory with the
 * keyring's age identities and their MAC checked; plain YAML and JSON files are read as maps.
 * Returns undefined for a plain dotenv file, which the caller reads as it always has.
 */
export class SopsEnvFiles {
  constructor(private readonly keyring: AgeKeyring) {}

  open(text: string, file: string): Record<string, string> | undefined {
    const format = formatOf(file);
    if (format === "dotenv" && !SOPS_DOTENV.test(text)) return undefined;
    const tree = parseTree(text, format);
    if (!isSopsTree(tree)) return envOf(tree);
    decryptTree(tree, this.keyring.dataKey(ageStanzas(tree)));
    return envOf(tree);
  }
}

/** Names and values as an environment; a decrypted dotenv file means what its `sops -d` output would. */
function envOf(tree: SopsTree): Record<string, string> {
  if (tree.format === "dotenv") return parseEnv(tree.emit()) as Record<string, string>;
  const env: Record<string, string> = {};
  for (const [name, value] of tree.entries()) {
    if (value !== null && typeof value === "object") throw new SopsError(`${name} holds a ${Array.isArray(value) ? "list" : "map"}; expected one value per name, e.g. ${name}: secret`);
    env[name] = value === null ? "" : String(value as Scalar);
  }
  return env;
}
