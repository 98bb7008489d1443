import { DockerCallError, type Driver } from "../../src/docker/driver.ts";
import { LABEL } from "../../src/docker/labels.ts";
import type { DesiredEnvironment } from "../../src/desired/model.ts";
import { TerminalReconcileError } from "../../src/engine/errors.ts";
import type { Logger } from "../../src/log/logger.ts";
import { resourceOf, type EnvironmentAction } from "./plan.ts";

const DONE_MESSAGE: Record<EnvironmentAction["type"], string> = {
  "create-network": "network created",
  "remove-network": "network removed",
  "create-volume": "volume created",
  "remove-volume": "volume removed",
  "remove-container": "container pruned",
};

/** Applies an environment's actions in order: creations, then removals of containers before networks. */
export async function executeEnvironmentActions(
  driver: Driver,
  scope: { key: string; project: string; environment: string },
  desired: DesiredEnvironment | undefined,
  actions: readonly EnvironmentAction[],
  log: Logger,
): Promise<void> {
  const labels = { ...(desired?.labels ?? {}), [LABEL.managed]: "true", [LABEL.target]: driver.target, [LABEL.project]: scope.project, [LABEL.environment]: scope.environment };
  for (const action of actions) {
    // Named by the resource it changes, as plan names it: the audit log and the plan line up.
    const reason = `${resourceOf(scope.environment, action)}: ${action.type} (${action.reason}; ${scope.key})`;
    switch (action.type) {
      case "create-network":
        // On a Swarm cluster: overlay, spanning the nodes, and attachable so that one-off containers (berth exec's peers, jobs) can join.
        await driver.createNetwork({ Name: action.name, Driver: desired?.swarm ? "overlay" : "bridge", ...(desired?.swarm ? { Attachable: true } : {}), CheckDuplicate: true, Labels: labels }, reason).catch((error) => {
          throw nameTaken(error, "network", action.name, driver.target);
        });
        break;
      case "create-volume":
        await driver.createVolume({ Name: action.name, Labels: { ...labels, [LABEL.volume]: action.name } }, reason);
        break;
      case "remove-container":
        // The container's own stop timeout (its service's stopGracePeriod) applies.
        await driver.stopContainer(action.id, undefined, reason);
        await driver.removeContainer(action.id, reason);
        break;
      case "remove-network":
        await driver.removeNetwork(action.id, reason);
        break;
      case "remove-volume":
        await driver.removeVolume(action.name, reason);
        break;
    }
    log.info(DONE_MESSAGE[action.type], { target: driver.target, environment: scope.key, object: action.name, reason: action.reason });
  }
}

/** A 409 on create means an object of that name exists but is not this target's: say so, never take it over. */
function nameTaken(error: unknown, kind: string, name: string, target: string): unknown {
  if (!(error instanceof DockerCallError) || error.statusCode !== 409) return error;
  return new TerminalReconcileError(
    `a ${kind} named ${name} already exists on DeploymentTarget/${target} but does not carry this target's labels (made by hand, by another tool, or by another target); expected no ${kind} of that name, e.g. docker ${kind} rm ${name} once nothing uses it`,
    { cause: error, retry: true },
  );
}
