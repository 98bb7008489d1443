import type { Controller } from "../src/engine/controller.ts";
import type { TargetConnectionsFactory } from "../src/engine/targets.ts";
import { connectTargets } from "./deploymenttarget/connections.ts";
import { environmentController } from "./environment/reconcile.ts";
import { projectController } from "./project/reconcile.ts";
import { serviceController } from "./service/reconcile.ts";

/** Every kind's reconciler, as the manager runs them. */
export const controllers: readonly Controller[] = [serviceController, environmentController, projectController];

/** DeploymentTargets are connections, not queued keys. */
export const targets: TargetConnectionsFactory = connectTargets;
