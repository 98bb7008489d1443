import { Option } from "commander";
import type { ParityReport } from "../../parity/diff.ts";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { ageKeyFileOption, allowHostPathOption, dbOption } from "../options.ts";
import { table } from "../table.ts";

/** `berth diff-env A B [DIR]`: parity of two environments' effective specs. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("diff-env")
    .description("compare the effective specs of two environments of a project, service by service and field by field")
    .argument("<a>", "first environment, e.g. development")
    .argument("<b>", "second environment, e.g. production")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .addOption(new Option("-o, --output <format>", "table or json").choices(["table", "json"]).default("table"))
    .addOption(dbOption())
    .addOption(allowHostPathOption())
    .addOption(ageKeyFileOption())
    .addHelpText("after", "\nSeverities: error (image differs, service missing), warning (replicas, resources, ports, command, health check, restart policy), info (env values, routing, update settings). Secret values show as ***. Exit 0 identical, 2 different, 1 error. Each report is stored.")
    .action(async (a: string, b: string, dir: string, options: { output: "table" | "json"; db: string; allowHostPath?: string[]; ageKeyFile?: string }) => {
      // Loaded when the command runs: --help and version stay light.
      const [{ buildDesiredModel, secretValuesOf }, { redactDeep, Redactor }, { compareEnvironments }, { openStore }, { loadValid }, { AgeKeyring, ageKeySource }] = await Promise.all([
        import("../../desired/model.ts"),
        import("../../log/logger.ts"),
        import("../../parity/diff.ts"),
        import("../../store/index.ts"),
        import("../runtime.ts"),
        import("../../secrets/age-keys.ts"),
      ]);
      const state = await loadValid(dir, io);
      if (!state) return setExitCode(1);
      const ageKeys = new AgeKeyring(ageKeySource(options.ageKeyFile, io.env));
      const build = () => buildDesiredModel(state, { daemonEnv: io.env, hostPaths: { allow: options.allowHostPath ?? [] }, ageKeys });
      let model = build();
      // age decryption is asynchronous: the first build starts it, the second uses the data keys.
      if (ageKeys.pending()) {
        await ageKeys.settled();
        model = build();
      }
      const [ea, eb] = [model.environments.get(a), model.environments.get(b)];
      const missing = [a, b].filter((name, i) => ![ea, eb][i]);
      if (missing.length || !ea || !eb) {
        io.stderr(`no Environment named ${missing.join(" or ")} in ${dir}; expected one of ${[...model.environments.keys()].join(", ") || "none"}\n`);
        return setExitCode(1);
      }
      if (ea.project !== eb.project) {
        io.stderr(`Environment/${a} belongs to Project/${ea.project} and Environment/${b} to Project/${eb.project}; expected two environments of one project\n`);
        return setExitCode(1);
      }
      // A service whose spec cannot be built here (a missing env file or daemon variable) has nothing to compare.
      const broken = [...ea.services, ...eb.services].filter((s) => s.error);
      if (broken.length) {
        for (const s of broken) io.stderr(`${s.key}: ${s.error}\n`);
        io.stderr(`cannot compare ${a} and ${b} while ${broken.length} service spec(s) cannot be built; nothing was stored\n`);
        return setExitCode(1);
      }
      const redactor = new Redactor();
      redactor.setSecrets(secretValuesOf(model));
      // Masked by name in the report; the redactor also catches a secret value under a name not marked secret elsewhere.
      // Each string masked on its own: masking the JSON text could break its syntax (a secret "true") or miss an escaped value.
      const report = redactDeep(compareEnvironments(ea, eb), (text) => redactor.redact(text));
      const store = await openStore(options.db);
      try {
        await store.parity.record(report);
      } finally {
        store.close();
      }
      io.stdout(options.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : render(report));
      setExitCode(report.identical ? 0 : 2);
    });
};

/** The report as a table: one row per difference (or per identical or missing service), then the summary. */
function render(report: ParityReport): string {
  const rows: string[][] = [];
  for (const s of report.services) {
    const status = s.status.replace(" A", ` ${report.a}`).replace(" B", ` ${report.b}`);
    if (!s.differences.length) rows.push([s.service, status, s.severity ?? "", "", "", ""]);
    s.differences.forEach((d, i) => rows.push([i ? "" : s.service, i ? "" : status, d.severity, d.path, d.a, d.b]));
  }
  const n = report.summary;
  const summary = `${report.services.length} service(s): ${n.identical} identical, ${n.different} different, ${n["missing in A"]} missing in ${report.a}, ${n["missing in B"]} missing in ${report.b}; ${n.error} error(s), ${n.warning} warning(s), ${n.info} info`;
  return `${table(["SERVICE", "STATUS", "SEVERITY", "FIELD", report.a.toUpperCase(), report.b.toUpperCase()], rows)}${summary}\n`;
}
