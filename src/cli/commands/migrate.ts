import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";

/** `berth migrate [DIR]`: rewrites manifests to another apiVersion in place, changing nothing else. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("migrate")
    .description("rewrite every manifest under DIR to another apiVersion in place, keeping comments, key order and formatting")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .addOption(new Option("--to <version>", "the apiVersion to write").choices(["v1beta1", "v1alpha1"]).default("v1beta1"))
    .option("--check", "change nothing; exit 2 when a file would change", false)
    .addHelpText("after", "\nExit status: 0 when nothing (more) needs migrating, 2 with --check when a file would change, 1 on an error.")
    .action(async (dir: string, options: { to: "v1beta1" | "v1alpha1"; check: boolean }) => {
      const { migrateDirectory } = await import("../../manifests/migrate.ts");
      const to = `berth.dev/${options.to}` as const;
      const changed = await migrateDirectory(dir, to, { write: !options.check });
      for (const file of changed) io.stdout(`${options.check ? "would migrate" : "migrated"} ${file.path} (${file.documents} document${file.documents === 1 ? "" : "s"}) to ${to}\n`);
      if (changed.length === 0) io.stdout(`${dir}: every manifest is already ${to}\n`);
      setExitCode(options.check && changed.length > 0 ? 2 : 0);
    });
};
