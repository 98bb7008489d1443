import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { loadValid } from "../runtime.ts";
import { buildDesiredModel } from "../../desired/model.ts";
import { driverForTarget } from "../../docker/transport.ts";
import type { DockerDriver } from "../../docker/driver.ts";
import { countChanges, planAll, renderPlans } from "../../engine/plan-all.ts";
import { Redactor } from "../../log/logger.ts";
import { secretValuesOf } from "../../desired/model.ts";

/** `berth plan [DIR]`: what a reconcile would change, read-only. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("plan")
    .description("show what a reconcile would change on every target, without changing anything")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .option("--detailed-exitcode", "exit 0 when nothing would change, 2 when changes are pending, 1 on error")
    .action(async (dir: string, options: { detailedExitcode?: boolean }) => {
      const state = await loadValid(dir, io);
      if (!state) return setExitCode(1);
      const model = buildDesiredModel(state, { daemonEnv: io.env });
      const redactor = new Redactor();
      redactor.setSecrets(secretValuesOf(model));
      const drivers = new Map<string, DockerDriver>();
      const driverOf = (name: string) => {
        if (!drivers.has(name)) drivers.set(name, driverForTarget(model.targets.get(name)!, { env: io.env }));
        return drivers.get(name)!;
      };
      let plans: Awaited<ReturnType<typeof planAll>>;
      try {
        plans = await planAll(model, driverOf);
      } finally {
        // An SSH target's connection would keep the process alive.
        for (const driver of drivers.values()) driver.close();
      }
      io.stdout(redactor.redact(renderPlans(plans)));
      const failed = plans.some((p) => p.error) || plans.some((p) => p.environments.some((e) => e.services.some((s) => s.error)));
      if (failed) return setExitCode(1);
      setExitCode(options.detailedExitcode && countChanges(plans) > 0 ? 2 : 0);
    });
};
