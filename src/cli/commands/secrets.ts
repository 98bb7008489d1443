import { readFileSync, writeFileSync } from "node:fs";
import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { ageKeyFileOption } from "../runtime.ts";
import { AgeKeyring, ageKeySource, SopsKeyPendingError } from "../../secrets/age-keys.ts";
import { ageStanzas, decryptTree, encryptTree, isSopsTree } from "../../secrets/sops.ts";
import { formatOf, parseTree } from "../../secrets/sops-document.ts";

/** `berth secrets encrypt|decrypt FILE`: SOPS files (age recipients) for operators without sops. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  const secrets = program.command("secrets").description("encrypt env files with SOPS for age recipients, so that they can live in git");
  const fail = (message: string) => {
    io.stderr(`berth secrets: ${message}\n`);
    setExitCode(1);
  };

  secrets
    .command("encrypt")
    .description("encrypt a dotenv, YAML or JSON file (format from its extension: .yaml/.yml/.json, otherwise dotenv) in SOPS' format")
    .argument("<file>", "the plain file")
    .addOption(new Option("--age <recipient>", "age recipient (age1…) that may decrypt it; repeatable").argParser((v: string, prev: string[] = []) => [...prev, v]).makeOptionMandatory())
    .addOption(new Option("-o, --output <file>", "write here instead of stdout").conflicts("inPlace"))
    .option("--in-place", "replace the plain file with the encrypted one")
    .addHelpText("after", "\nKeys ending in _unencrypted stay readable (and are still covered by the MAC). Decrypt with sops -d or berth secrets decrypt.\nExample: berth secrets encrypt secrets/db.env --age age1… --in-place")
    .action(async (file: string, options: { age: string[]; output?: string; inPlace?: boolean }) => {
      try {
        const tree = parseTree(readFileSync(file, "utf8"), formatOf(file));
        if (isSopsTree(tree)) return fail(`${file} is already encrypted with SOPS; expected a plain file`);
        const text = await encryptTree(tree, options.age);
        const out = options.inPlace ? file : options.output;
        if (out) writeFileSync(out, text);
        else io.stdout(text);
      } catch (error) {
        fail(`${file}: ${error instanceof Error ? error.message : String(error)}`);
      }
    });

  secrets
    .command("decrypt")
    .description("decrypt a SOPS file (age recipients) and check its MAC; prints the clear text only with --stdout")
    .argument("<file>", "the encrypted file")
    .addOption(ageKeyFileOption())
    .addOption(new Option("-o, --output <file>", "write the clear text here (mode 0600)").conflicts("stdout"))
    .option("--stdout", "print the clear text")
    .action(async (file: string, options: { ageKeyFile?: string; output?: string; stdout?: boolean }) => {
      try {
        const tree = parseTree(readFileSync(file, "utf8"), formatOf(file));
        if (!isSopsTree(tree)) return fail(`${file} is not encrypted with SOPS; expected a file with a sops section (sops_mac= in dotenv)`);
        const keys = new AgeKeyring(ageKeySource(options.ageKeyFile, io.env));
        const stanzas = ageStanzas(tree);
        const dataKey = await keyOf(keys, stanzas);
        decryptTree(tree, dataKey);
        const text = tree.emit();
        if (options.output) writeFileSync(options.output, text, { mode: 0o600 });
        else if (options.stdout) io.stdout(text);
        else io.stderr(`${file}: decrypted, MAC verified (${tree.leaves.length} values); pass -o FILE or --stdout to see them\n`);
      } catch (error) {
        fail(`${file}: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
};

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
