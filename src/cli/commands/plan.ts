import { existsSync } from "node:fs";
import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { ageKeyFileOption, allowHostPathOption, dbOption } from "../options.ts";

/** `berth plan [DIR]`: what a reconcile would change, decided exactly as apply decides, without acting. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("plan")
    .description("show what a reconcile would change on every target (the same decision apply makes), without changing anything")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .option("--detailed-exitcode", "exit 0 when nothing would change, 2 when changes are pending, 1 on error")
    .addOption(new Option("-o, --output <format>", "text or json").choices(["text", "json"]).default("text"))
    .addOption(dbOption())
    .addOption(allowHostPathOption())
    .addOption(ageKeyFileOption())
    .addHelpText("after", '\nJSON: {"changes":[{"resource":"Service/<env>/<name>","action":"create|delete|rollout|scale|start|stop|repair","strategy":"rolling|recreate|null","reason":"...","fields":["spec.image"]}],"errors":[...]}')
    .action(async (dir: string, options: { detailedExitcode?: boolean; output: "text" | "json"; db: string; allowHostPath?: string[]; ageKeyFile?: string }) => {
      // Loaded when the command runs: --help and version stay light.
      const [{ createRuntime, loadValid }, { Manager }, { renderPlan }] = await Promise.all([import("../runtime.ts"), import("../../engine/manager.ts"), import("../../engine/plan.ts")]);
      const state = await loadValid(dir, io);
      if (!state) return setExitCode(1);
      // A plan reads what apply and run recorded; with nothing recorded yet it decides as a first apply would,
      // without creating a database. Logs stay quiet: the plan itself is the output.
      const recorded = !options.db.startsWith("file:") || options.db.startsWith("file::memory:") || existsSync(options.db.slice("file:".length));
      const runtime = await createRuntime(io, { db: recorded ? options.db : "file::memory:", logFormat: "text", logLevel: "error", allowHostPath: options.allowHostPath, ageKeyFile: options.ageKeyFile });
      const manager = new Manager({ ...runtime.managerOptions, observer: undefined, watchEvents: false });
      try {
        manager.setDesired(state);
        await manager.connected();
        const plan = await manager.plan();
        const text = options.output === "json" ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan);
        io.stdout(runtime.redactor.redact(text));
        if (plan.errors.length) return setExitCode(1);
        setExitCode(options.detailedExitcode && plan.changes.length > 0 ? 2 : 0);
      } finally {
        // An SSH target's connection would keep the process alive.
        await manager.stop();
        await runtime.close();
      }
    });
};
