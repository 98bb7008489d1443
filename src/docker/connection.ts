import Docker from "dockerode";

/**
 * Highest Engine API version Berth asks for. Docker Engine 20.10 speaks 1.41;
 * newer engines still answer requests made at this version.
 */
export const DOCKER_API_VERSION = "v1.41";

/** The engine address the docker CLI would use: DOCKER_HOST, else the default socket. */
export function defaultDockerHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || "unix:///var/run/docker.sock";
}

export class DockerHostError extends Error {
  constructor(host: string) {
    super(`unsupported Docker host "${host}"; expected unix:///path/to/docker.sock or tcp://host:port, e.g. unix:///var/run/docker.sock`);
    this.name = "DockerHostError";
  }
}

/** dockerode options for a unix:// or tcp:// engine address, pinned to DOCKER_API_VERSION. */
export function dockerOptionsFor(host: string): Docker.DockerOptions {
  if (host.startsWith("unix://")) return { socketPath: host.slice("unix://".length), version: DOCKER_API_VERSION };
  if (host.startsWith("tcp://")) {
    const url = new URL(host.replace(/^tcp:/, "http:"));
    return { host: url.hostname, port: Number(url.port || 2375), protocol: "http", version: DOCKER_API_VERSION };
  }
  throw new DockerHostError(host);
}

/** A dockerode client for an engine address. */
export function connectDocker(host: string = defaultDockerHost()): Docker {
  return new Docker(dockerOptionsFor(host));
}
