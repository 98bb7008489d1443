// What `berth secrets` does, loaded only when it runs: the age and SOPS code stays out of every other command's start.
import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { CliIO } from "./context.ts";
import { AgeKeyring, ageKeySource, SopsKeyPendingError } from "../secrets/age-keys.ts";
import { ageStanzas, checkMetadata, decryptTree, encryptTree } from "../secrets/sops.ts";
import { binaryData, binaryTree, parseTree, sopsFormatIn, storeOf, type SopsTree } from "../secrets/sops-document.ts";
import { SopsError } from "../secrets/sops-cipher.ts";
import { plainDotenvTree } from "../secrets/sops-env.ts";

/** `berth secrets encrypt FILE`. */
export async function encryptFile(io: CliIO, fail: (message: string) => void, file: string, options: { age: string[]; output?: string; inPlace?: boolean }): Promise<void> {
  try {
    const out = options.inPlace ? file : options.output;
    const tree = plainTree(readFileSync(file, "utf8"), file, out ?? file);
    const text = await encryptTree(tree, options.age);
    if (out) writeFileSync(out, text);
    else io.stdout(text);
  } catch (error) {
    fail(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** `berth secrets decrypt FILE`. */
export async function decryptFile(io: CliIO, fail: (message: string) => void, file: string, options: { ageKeyFile?: string; output?: string; stdout?: boolean }): Promise<void> {
  try {
    const input = readFileSync(file, "utf8");
    const store = storeOf(file);
    const format = store === "yaml" || store === "json" ? store : sopsFormatIn(input);
    const tree = format && parseTree(input, format);
    if (!tree?.metadata) return fail(`${file} is not encrypted with SOPS; expected a file with a sops section (sops_mac= in dotenv)`);
    checkMetadata(tree);
    const keys = new AgeKeyring(ageKeySource(options.ageKeyFile, io.env));
    const stanzas = ageStanzas(tree);
    const dataKey = await keyOf(keys, stanzas);
    decryptTree(tree, dataKey);
    // sops -d writes the binary format's one value as the file it was.
    const text = (store === "json" ? undefined : binaryData(tree)) ?? tree.emit();
    if (options.output) writePrivate(options.output, text);
    else if (options.stdout) io.stdout(text);
    else io.stderr(`${file}: decrypted, MAC verified (${tree.leaves.length} values); pass -o FILE or --stdout to see them\n`);
  } catch (error) {
    fail(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The plain file as the tree sops would encrypt for the name `out` (the file sops -d will read):
 * a dotenv file with the values Berth reads from it, YAML or JSON as they are, and for any other
 * name the whole text as sops' binary format. A plain dotenv `file` may go to any name but
 * .yaml/.json; a YAML or JSON `file` only to a name of its own kind.
 */
function plainTree(text: string, file: string, out: string): SopsTree {
  if (sopsFormatIn(text)) throw new SopsError(`it is already encrypted with SOPS; expected a plain file`);
  const [from, to] = [storeOf(file), storeOf(out)];
  if (to === "ini") throw new SopsError(`sops reads ${out} in its INI format, which Berth does not write; expected an output name ending in .env (or one sops reads as binary, e.g. db.secret)`);
  if ((from === "yaml" || from === "json" || to === "yaml" || to === "json") && from !== to) {
    throw new SopsError(`sops reads ${file} as ${from} and ${out} as ${to}; expected an output name of the same kind (.yaml/.yml, .json, or .env for a dotenv file)`);
  }
  if (to === "binary") return binaryTree(text);
  return to === "dotenv" ? plainDotenvTree(text) : parseTree(text, to);
}

/** Clear text only ever in a file of mode 0600: written beside `path` and renamed over it, so an existing file's mode never applies. */
function writePrivate(path: string, text: string): void {
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    writeFileSync(temporary, text, { mode: 0o600, flag: "wx" });
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** The keyring unwraps in the background; a command just waits for it. */
async function keyOf(keys: AgeKeyring, stanzas: Parameters<AgeKeyring["dataKey"]>[0]): Promise<Uint8Array> {
  try {
    return keys.dataKey(stanzas);
  } catch (error) {
    if (!(error instanceof SopsKeyPendingError)) throw error;
    await keys.settled();
    return keys.dataKey(stanzas);
  }
}
