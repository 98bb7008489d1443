/** Docker object names derived from manifest names; deterministic, so a restarted daemon finds its objects. */

/** Name of an environment's default network, also the prefix of everything the environment owns. */
export function environmentPrefix(project: string, environment: string): string {
  return `${project}-${environment}`;
}

/** Name of an extra network declared by a service, scoped to its environment. */
export function networkName(project: string, environment: string, network?: string): string {
  return network ? `${environmentPrefix(project, environment)}-${network}` : environmentPrefix(project, environment);
}

/** Name of a named volume, scoped to its environment, unless the Environment names it (an existing volume, used in place). */
export function volumeName(project: string, environment: string, volume: string, named?: Readonly<Record<string, string>>): string {
  return named?.[volume] ?? `${environmentPrefix(project, environment)}-${volume}`;
}

/**
 * Container name of one replica slot at one spec revision. The short hash lets
 * the old and new container of a slot exist side by side during a rollout;
 * labels, not the name, say which slot a container fills.
 */
export function containerName(project: string, environment: string, service: string, slot: number, specHash: string): string {
  return `${environmentPrefix(project, environment)}-${service}-${slot}-${specHash.slice(0, 7)}`;
}

/** Workqueue key of one Service in one Environment. */
export function serviceKey(environment: string, service: string): string {
  return `Service/${environment}/${service}`;
}

/** Workqueue key of an Environment. */
export function environmentKey(environment: string): string {
  return `Environment/${environment}`;
}
