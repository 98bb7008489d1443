import type { ServiceAction } from "../../controllers/service/plan.ts";
import type { EnvironmentAction } from "../../controllers/environment/plan.ts";
import { DockerCallError, type DockerDriver } from "../docker/driver.ts";
import { LABEL } from "../docker/labels.ts";
import type { DesiredEnvironment, DesiredService } from "../desired/model.ts";
import type { Logger } from "../log/logger.ts";

const DONE_MESSAGE: Record<ServiceAction["type"], string> = {
  pull: "image pulled",
  build: "image built",
  create: "container created",
  start: "container started",
  stop: "container stopped",
  remove: "container removed",
};

/** Applies a service's plan in order; the only place that changes a service's containers. */
export async function executeServiceActions(driver: DockerDriver, desired: DesiredService, actions: readonly ServiceAction[], log: Logger): Promise<void> {
  for (const action of actions) {
    const reason = `${desired.key}: ${action.type} (${action.reason})`;
    switch (action.type) {
      case "pull":
        await driver.pullImage(action.ref, reason);
        break;
      case "build": {
        const build = desired.image.build!;
        await driver.buildImage(
          { context: build.dir, src: build.files },
          { t: action.ref, dockerfile: build.dockerfile, buildargs: JSON.stringify(build.args ?? {}), target: build.target, networkmode: "none", labels: JSON.stringify({ [LABEL.managed]: "true", [LABEL.project]: desired.project, [LABEL.service]: desired.service }) },
          reason,
        );
        break;
      }
      case "create":
        await createAndStart(driver, desired, action.slot, action.name, reason);
        break;
      case "start":
        await driver.startContainer(action.id, reason);
        break;
      case "stop":
        await driver.stopContainer(action.id, desired.stopGraceSeconds, reason);
        break;
      case "remove":
        await driver.stopContainer(action.id, desired.stopGraceSeconds, reason);
        await driver.removeContainer(action.id, reason);
        break;
    }
    log.info(DONE_MESSAGE[action.type], {
      target: desired.target,
      service: desired.key,
      ...("name" in action ? { container: action.name } : { image: action.ref }),
      reason: action.reason,
    });
  }
}

/** Creates and starts one replica; a container that fails to start is removed, so none is left half-made. */
async function createAndStart(driver: DockerDriver, desired: DesiredService, slot: number, name: string, reason: string): Promise<void> {
  const labels = { ...desired.template.Labels, [LABEL.replica]: String(slot), [LABEL.specHash]: desired.specHash };
  const id = await driver.createContainer({ ...desired.template, name, Labels: labels }, reason);
  try {
    for (const network of desired.extraNetworks) await driver.connectNetwork(network, id, [desired.service], reason);
    await driver.startContainer(id, reason);
  } catch (error) {
    await driver.removeContainer(id, `${reason}: clean up after failed start`).catch(() => {});
    throw error;
  }
}

/** A 409 on create means an object of that name exists but is not this target's: say so, never take it over. */
function nameTaken(error: unknown, kind: string, name: string, target: string): unknown {
  if (!(error instanceof DockerCallError) || error.statusCode !== 409) return error;
  return new Error(
    `a ${kind} named ${name} already exists on DeploymentTarget/${target} but does not carry this target's labels (made by hand, by another tool, or by another target); expected no ${kind} of that name, e.g. docker ${kind} rm ${name} once nothing uses it`,
    { cause: error },
  );
}

const ENVIRONMENT_MESSAGE: Record<EnvironmentAction["type"], string> = {
  "create-network": "network created",
  "remove-network": "network removed",
  "create-volume": "volume created",
  "remove-volume": "volume removed",
  "remove-container": "container pruned",
};

/** Applies an environment's plan in order: creations, then removals of containers before networks. */
export async function executeEnvironmentActions(
  driver: DockerDriver,
  scope: { key: string; project: string; environment: string },
  desired: DesiredEnvironment | undefined,
  actions: readonly EnvironmentAction[],
  log: Logger,
): Promise<void> {
  const labels = { ...(desired?.labels ?? {}), [LABEL.managed]: "true", [LABEL.target]: driver.target, [LABEL.project]: scope.project, [LABEL.environment]: scope.environment };
  for (const action of actions) {
    const reason = `${scope.key}: ${action.type} (${action.reason})`;
    switch (action.type) {
      case "create-network":
        await driver.createNetwork({ Name: action.name, Driver: "bridge", CheckDuplicate: true, Labels: labels }, reason).catch((error) => {
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
    log.info(ENVIRONMENT_MESSAGE[action.type], { target: driver.target, environment: scope.key, object: action.name, reason: action.reason });
  }
}
