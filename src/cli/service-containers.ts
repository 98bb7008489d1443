import type Docker from "dockerode";
import type { DockerDriver } from "../docker/driver.ts";
import type { Environment, Service } from "../manifests/types.ts";

/** A Service of one Environment, the engine it runs on, and its containers there. */
export interface ServiceOnTarget {
  project: string;
  environment: string;
  service: string;
  driver: DockerDriver;
  /** Every container of the service (all revisions, running or not), by slot then newest first. */
  containers: Docker.ContainerInfo[];
}

/** The argument does not name a service the manifests declare in one environment. */
export class ServiceArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServiceArgumentError";
  }
}

/**
 * Finds `Service/name` (with --env) or `Service/environment/name` in the
 * manifests of `dir`, connects to its Environment's DeploymentTarget (local
 * or SSH) and lists its containers. Without --env, the Project's only
 * Environment is meant.
 */
export async function serviceOnTarget(arg: string, env: string | undefined, dir: string, processEnv: NodeJS.ProcessEnv): Promise<ServiceOnTarget> {
  const { loadManifests } = await import("../manifests/load.ts");
  const { driverForTarget } = await import("../docker/transport.ts");
  const { LABEL } = await import("../docker/labels.ts");
  const state = await loadManifests(dir);
  const parts = arg.replace(/^Service\//, "").split("/");
  const [environmentArg, name] = parts.length === 2 ? [parts[0], parts[1]!] : [env, parts[0]!];
  const services = state.resources.filter((r): r is Service => r.kind === "Service");
  const service = services.find((s) => s.metadata.name === name);
  if (!service) throw new ServiceArgumentError(`Service/${name} is not declared in ${dir}; expected one of ${services.map((s) => s.metadata.name).join(", ") || "(none)"}, e.g. Service/${services[0]?.metadata.name ?? "web"}`);
  const environments = state.resources.filter((r): r is Environment => r.kind === "Environment").filter((e) => e.spec.project === service.spec.project);
  let environment: Environment | undefined;
  if (environmentArg) environment = environments.find((e) => e.metadata.name === environmentArg);
  else if (environments.length === 1) environment = environments[0];
  else throw new ServiceArgumentError(`Service/${name} runs in several environments (${environments.map((e) => e.metadata.name).join(", ")}); expected --env, e.g. --env ${environments[0]?.metadata.name ?? "production"}`);
  if (!environment) throw new ServiceArgumentError(`Environment/${environmentArg} of Project/${service.spec.project} is not declared in ${dir}; expected one of ${environments.map((e) => e.metadata.name).join(", ")}`);
  const target = state.resources.find((r) => r.kind === "DeploymentTarget" && r.metadata.name === environment.spec.target);
  if (!target || target.kind !== "DeploymentTarget") throw new ServiceArgumentError(`DeploymentTarget/${environment.spec.target} of Environment/${environment.metadata.name} is not declared in ${dir}`);
  const driver = driverForTarget(target as Parameters<typeof driverForTarget>[0], { env: processEnv });
  const labels = [`${LABEL.project}=${service.spec.project}`, `${LABEL.environment}=${environment.metadata.name}`, `${LABEL.service}=${name}`];
  const containers = (await driver.docker.listContainers({ all: true, filters: { label: labels } })).sort((a, b) => Number(a.Labels[LABEL.replica]) - Number(b.Labels[LABEL.replica]) || b.Created - a.Created);
  return { project: service.spec.project, environment: environment.metadata.name, service: name, driver, containers };
}
