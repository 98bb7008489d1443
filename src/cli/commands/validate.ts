import { resolve } from "node:path";
import { Option } from "commander";
import { parseOutputFormat, type CommandModule, type OutputFormat } from "../context.ts";
import { ManifestError } from "../../manifests/errors.ts";
import type { DesiredState } from "../../manifests/load.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { deprecationNote } from "../deprecation.ts";

/** `berth validate [DIR]`: schema and cross-resource checks, every problem at once. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("validate")
    .description("check every manifest under DIR against the CRD schemas and the cross-resource rules")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .addOption(new Option("-o, --output <format>", "text or json").default("text").argParser(parseOutputFormat))
    .addHelpText("after", "\nExit status: 0 when valid, 1 when any problem is found.")
    .action(async (dir: string, options: { output: OutputFormat }) => {
      let state: DesiredState;
      try {
        // Loaded when the command runs: the validator (ajv and the CRDs) stays out of other commands' start.
        const { loadManifests } = await import("../../manifests/load.ts");
        state = await loadManifests(dir);
      } catch (error) {
        // -o json answers in JSON whatever happens, e.g. for a directory that cannot be read.
        if (options.output !== "json") throw error;
        io.stdout(`${JSON.stringify(unreadableJson(dir, error), null, 2)}\n`);
        setExitCode(1);
        return;
      }
      io.stdout(options.output === "json" ? `${JSON.stringify(toJson(state), null, 2)}\n` : toText(dir, state));
      if (options.output !== "json") {
        const note = deprecationNote(dir, state);
        if (note) io.stderr(note);
      }
      setExitCode(state.errors.length === 0 ? 0 : 1);
    });
};

function toText(dir: string, state: DesiredState): string {
  const counts = new Map<string, number>();
  for (const r of state.resources) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
  const summary = [...counts].map(([kind, n]) => `${n} ${kind}${n === 1 ? "" : "s"}`).join(", ") || "no resources";
  const revision = state.revision ? ` at ${state.revision.commit.slice(0, 12)}${state.revision.dirty ? " (uncommitted changes)" : ""}` : "";
  const files = `${state.files.length} file${state.files.length === 1 ? "" : "s"}`;
  // Warnings never fail validation: they are printed after the errors and counted apart.
  const warnings = state.warnings ?? [];
  const warned = warnings.map((w) => `warning: ${w.message}\n`).join("");
  const tally = warnings.length === 0 ? "" : `; ${warnings.length} warning${warnings.length === 1 ? "" : "s"}`;
  if (state.errors.length === 0) return `${warned}${dir}: valid (${files}: ${summary})${revision}${tally}\n`;
  const lines = state.errors.map((e) => `${e.message}\n`).join("");
  const n = state.errors.length;
  return `${lines}${warned}${dir}: ${n} problem${n === 1 ? "" : "s"} in ${files}${revision}${tally}\n`;
}

function toJson(state: DesiredState) {
  return {
    valid: state.errors.length === 0,
    dir: state.dir,
    revision: state.revision ?? null,
    contentHash: state.contentHash,
    errors: state.errors.map((e) => e.toJSON()),
    warnings: (state.warnings ?? []).map((w) => w.toJSON()),
    deprecations: (state.deprecations ?? []).map((w) => w.toJSON()),
    files: state.files,
    resources: state.resources.map((r) => ({ kind: r.kind, name: r.metadata.name, ...r.source })),
  };
}

/** The JSON report when the directory as a whole cannot be read: same shape, one error, nothing in force. */
function unreadableJson(dir: string, error: unknown) {
  const what = error instanceof Error ? error.message : String(error);
  const problem = new ManifestError({ file: dir, line: 1, col: 1, resource: "directory", problem: `cannot read the manifests directory: ${what}`, expected: "a readable directory of YAML manifests", example: "berth validate manifests" });
  return { valid: false, dir: resolve(dir), revision: null, contentHash: null, errors: [problem.toJSON()], warnings: [], files: [], resources: [] };
}
