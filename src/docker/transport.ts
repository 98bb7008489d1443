import type { DeploymentTarget } from "../manifests/types.ts";
import Docker from "dockerode";
import { connectDocker, defaultDockerHost, DOCKER_API_VERSION } from "./connection.ts";
import { SshTunnel } from "./ssh.ts";
import { DockerDriver, type DriverHooks } from "./driver.ts";

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportError";
  }
}

/** Builds the driver for a DeploymentTarget: the local socket (or DOCKER_HOST), or the remote socket forwarded over one SSH connection. */
export function driverForTarget(target: DeploymentTarget, options: { hooks?: DriverHooks; env?: NodeJS.ProcessEnv } = {}): DockerDriver {
  const name = target.metadata.name;
  // A swarm target without ssh is a manager reached through a socket, as a local target is.
  if (target.spec.type === "local" || (target.spec.type === "swarm" && !target.spec.ssh)) {
    const host = target.spec.docker?.host ?? defaultDockerHost(options.env);
    return new DockerDriver(name, connectDocker(host), { hooks: options.hooks });
  }
  const ssh = target.spec.ssh;
  if (!ssh) throw new TransportError(`DeploymentTarget/${name}: type ssh needs spec.ssh; expected e.g. ssh: {host: deploy.example.com, user: deploy, hostKey: "SHA256:..."}`);
  const env = options.env ?? process.env;
  const tunnel = new SshTunnel({
    target: name,
    host: ssh.host,
    port: ssh.port,
    user: ssh.user,
    identityFile: ssh.identityFile,
    passphrase: ssh.passphraseFromEnv ? env[ssh.passphraseFromEnv] : undefined,
    agentSocket: env.SSH_AUTH_SOCK,
    hostKey: ssh.hostKey,
    remoteSocket: ssh.remoteSocket,
  });
  // The host name is never dialled: every request goes through the agent's forwarded stream.
  // docker-modem takes an http.Agent (its typings omit it).
  const docker = new Docker({ protocol: "http", host: "remote-docker", port: 80, agent: tunnel.agent(), version: DOCKER_API_VERSION } as Docker.DockerOptions);
  return new DockerDriver(name, docker, { hooks: options.hooks, dial: tunnel.dial, close: () => tunnel.close() });
}
