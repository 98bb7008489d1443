import type { ServicePhase } from "../../controllers/service/machine.ts";
import type { HealthOf } from "../../controllers/service/dependencies.ts";
import type { DockerDriver } from "../docker/driver.ts";
import type { DesiredModel } from "../desired/model.ts";
import type { HealthProber } from "../health/prober.ts";
import type { Logger } from "../log/logger.ts";
import type { Rollouts } from "./rollouts.ts";

/** Where an environment no manifest declares any more was last seen. */
export interface OrphanEnvironment {
  project: string;
  target: string;
}

/** What every reconcile is given; nothing is imported as a singleton. */
export interface ReconcileDeps {
  /** The model of the manifests in force (each file's last valid version), read fresh on every reconcile. */
  model(): DesiredModel;
  /** The driver of a target; throws when the target is not connected. */
  driver(target: string): DockerDriver;
  prober: HealthProber;
  /** Rollouts in flight, pins and what last ran successfully, per service. */
  rollouts: Rollouts;
  healthOf: HealthOf;
  log: Logger;
  servicePhase(key: string): ServicePhase | undefined;
  enqueue(key: string): void;
  /** Copies of an environment where no manifest declares it (another target or project, or deleted). */
  orphans(environment: string): OrphanEnvironment[];
  /** Called once an orphan copy has nothing left to prune. */
  forgetOrphan(environment: string, owner: OrphanEnvironment): void;
}
