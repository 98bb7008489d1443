import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { Option } from "commander";
import { parseOutputFormat, type CommandModule, type OutputFormat } from "../context.ts";

interface ImportOptions {
  out: string;
  project?: string;
  env: string;
  profile: string[];
  force: boolean;
  report: OutputFormat;
}

/** `berth import compose FILE...`: manifests from a compose project, and a report of what did not map. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  const command = program.command("import").description("turn another tool's files into Berth manifests");
  command
    .command("compose")
    .description("write Project, Environment, Service and DeploymentTarget manifests for a compose project (read by compose itself: interpolation, override files, env_file, profiles); what cannot be mapped is reported and written as comments")
    .argument("<files...>", "compose files, base first then overrides, as docker compose -f takes them")
    .option("-o, --out <dir>", "directory to write the manifests to", "manifests")
    .option("--project <name>", "Project name (default: compose's project name)")
    .option("--env <name>", "Environment name", "production")
    .addOption(new Option("--profile <name>", "also import the services of this compose profile (repeatable)").argParser((value: string, previous: string[] = []) => [...previous, value]).default([]))
    .option("--force", "write into a directory that already holds files", false)
    .addOption(new Option("--report <format>", "print the report as text or json").default("text").argParser(parseOutputFormat))
    .addHelpText("after", "\nCompose's volumes are kept by name (the Environment's volumeNames), so their data stays where it is.\nExit status: 0 when written (even with fields not mapped), 1 when compose cannot read the files or the directory is not empty.")
    .action(async (files: string[], options: ImportOptions) => {
      const { readComposeProject } = await import("../../compose/read.ts");
      const { convertCompose } = await import("../../compose/convert.ts");
      const { manifestFiles, readsOutside, reportLines } = await import("../../compose/write.ts");
      const { dnsLabel } = await import("../../compose/fields.ts");
      const outDir = resolve(options.out);
      if (!options.force && existsSync(outDir) && readdirSync(outDir).length > 0) {
        io.stderr(`berth import compose: ${options.out} already holds files and nothing there is overwritten; expected an empty or new directory, e.g. -o manifests-imported, or --force\n`);
        setExitCode(1);
        return;
      }
      const compose = await readComposeProject(files, { profiles: options.profile, env: io.env });
      const imported = convertCompose(compose, { project: options.project ?? dnsLabel(compose.name), environment: options.env, outDir });
      const written = manifestFiles(imported, files.map((f) => relative(outDir, resolve(f))));
      for (const file of written) {
        const path = join(outDir, file.path);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, file.text);
      }
      if (options.report === "json") {
        io.stdout(`${JSON.stringify({ dir: options.out, files: written.map((f) => f.path), project: imported.project.name, environment: imported.environment.name, volumeNames: imported.environment.volumeNames, notMapped: imported.report }, null, 2)}\n`);
      } else {
        io.stdout(`wrote ${written.length} manifests to ${options.out} (Project ${imported.project.name}, Environment ${imported.environment.name}, ${imported.services.length} Services)\n`);
        if (imported.report.length) io.stdout(`not mapped (${imported.report.length}), also written as comments in the manifests:\n${reportLines(imported.report).map((l) => `  ${l.replaceAll("\t", "  ")}\n`).join("")}`);
        const allow = readsOutside(imported) ? ` --allow-host-path ${dirname(resolve(files[0]!))}` : "";
        io.stdout(`next: berth validate ${options.out}, then berth plan ${options.out}${allow}\n`);
      }
      setExitCode(0);
    });
};
