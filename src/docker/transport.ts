import type { DeploymentTarget } from "../manifests/types.ts";
import { connectDocker, defaultDockerHost } from "./connection.ts";
import { DockerDriver, type DriverHooks } from "./driver.ts";

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportError";
  }
}

/** Builds the driver for a DeploymentTarget: the local socket (or DOCKER_HOST), or an SSH-forwarded socket. */
export function driverForTarget(target: DeploymentTarget, options: { hooks?: DriverHooks; env?: NodeJS.ProcessEnv } = {}): DockerDriver {
  const name = target.metadata.name;
  if (target.spec.type === "local") {
    const host = target.spec.docker?.host ?? defaultDockerHost(options.env);
    return new DockerDriver(name, connectDocker(host), { hooks: options.hooks });
  }
  throw new TransportError(`DeploymentTarget/${name}: type ssh is not supported by this build; expected type local, e.g. type: local`);
}
