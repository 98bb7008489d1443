import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { ageKeyFileOption } from "../options.ts";

/** `berth secrets encrypt|decrypt FILE`: SOPS files (age recipients) for operators without sops. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  const secrets = program.command("secrets").description("encrypt env files with SOPS for age recipients, so that they can live in git");
  const fail = (message: string) => {
    io.stderr(`berth secrets: ${message}\n`);
    setExitCode(1);
  };

  secrets
    .command("encrypt")
    .description("encrypt an env file in SOPS' format, chosen by name as sops does: .env dotenv, .yaml/.yml YAML, .json JSON, any other name binary (the whole file as one value)")
    .argument("<file>", "the plain file")
    .addOption(new Option("--age <recipient>", "age recipient (age1…) that may decrypt it; repeatable").argParser((v: string, prev: string[] = []) => [...prev, v]).makeOptionMandatory())
    .addOption(new Option("-o, --output <file>", "write here instead of stdout").conflicts("inPlace"))
    .option("--in-place", "replace the plain file with the encrypted one")
    .addHelpText("after", "\nKeys ending in _unencrypted stay readable (and are still covered by the MAC). The format follows the name of the file written (-o, else FILE), so sops -d reads it. Decrypt with sops -d or berth secrets decrypt.\nExample: berth secrets encrypt secrets/db.env --age age1… --in-place")
    .action(async (file: string, options: { age: string[]; output?: string; inPlace?: boolean }) => {
      await (await import("../secret-files.ts")).encryptFile(io, fail, file, options);
    });

  secrets
    .command("decrypt")
    .description("decrypt a SOPS file (age recipients) and check its MAC; prints the clear text only with --stdout")
    .argument("<file>", "the encrypted file")
    .addOption(ageKeyFileOption())
    .addOption(new Option("-o, --output <file>", "write the clear text here (mode 0600)").conflicts("stdout"))
    .option("--stdout", "print the clear text")
    .action(async (file: string, options: { ageKeyFile?: string; output?: string; stdout?: boolean }) => {
      await (await import("../secret-files.ts")).decryptFile(io, fail, file, options);
    });
};
