import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { loadValid } from "../runtime.ts";
import { buildDesiredModel } from "../../desired/model.ts";
import { driverForTarget } from "../../docker/transport.ts";
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
      const drivers = new Map([...model.targets].map(([name, target]) => [name, () => driverForTarget(target, { env: io.env })]));
      const plans = await planAll(model, (target) => drivers.get(target)!());
      io.stdout(redactor.redact(renderPlans(plans)));
      const failed = plans.some((p) => p.error) || plans.some((p) => p.environments.some((e) => e.services.some((s) => s.error)));
      if (failed) return setExitCode(1);
      setExitCode(options.detailedExitcode && countChanges(plans) > 0 ? 2 : 0);
    });
};
