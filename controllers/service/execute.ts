import type { Driver } from "../../src/docker/driver.ts";
import { KEEP_BUILT_IMAGES, pruneBuiltImages } from "../../src/docker/image-gc.ts";
import { LABEL } from "../../src/docker/labels.ts";
import { observeContainers } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import type { Change } from "../../src/engine/observer.ts";
import type { Probes } from "../../src/engine/controller.ts";
import type { Logger } from "../../src/log/logger.ts";
import type { Store } from "../../src/store/index.ts";
import { TerminalReconcileError } from "../../src/engine/errors.ts";
import { serviceChange, type ServiceAction } from "./plan.ts";
import { pullWithCredentials } from "./pull.ts";
import type { PullCredentials } from "../../src/docker/registry-auth.ts";

export interface ServiceExecution {
  key: string;
  driver: Driver;
  /** The service at a revision an action names (create), from the manifest or the store. */
  at(revision: string): DesiredService | undefined;
  /** The manifest's service: its build, stop grace, owner labels. */
  service: DesiredService;
  /** Registers the containers Berth probes for a service (an empty list stops probing it). */
  prober: Pick<Probes, "track">;
  store: Pick<Store, "deployments">;
  log: Logger;
  /** The registry credentials for pulling a reference (none: pulls go without). */
  credentials?(ref: string): PullCredentials;
}

const DONE_MESSAGE: Partial<Record<ServiceAction["type"], string>> = {
  pull: "image pulled",
  build: "image built",
  create: "container created",
  start: "container started",
  stop: "container stopped",
  remove: "container removed",
  join: "container joined its service's name",
  retire: "container taken out of service",
};

/**
 * Carries out a service's decided actions in order: the only place a
 * service's containers, images and probes change. Returns what changed.
 */
export async function executeServiceActions(actions: readonly ServiceAction[], run: ServiceExecution): Promise<Change[]> {
  const { driver, service, log } = run;
  const changes: Change[] = [];
  for (const action of actions) {
    if (action.type === "probe") {
      run.prober.track(run.key, (c) => action.checks.get(c.id), action.network, action.containers, driver.healthLogReader, driver.dial);
      continue;
    }
    const reason = `${run.key}: ${action.type} (${action.reason})`;
    switch (action.type) {
      case "pull":
        await pullWithCredentials(driver, action.ref, reason, run.credentials?.(action.ref));
        break;
      case "build":
        await buildServiceImage(driver, service, action.ref, run.key, reason);
        break;
      case "create": {
        const revision = run.at(action.revision);
        if (!revision) throw new TerminalReconcileError(`${run.key}: revision ${action.revision.slice(0, 12)} has no stored spec to create ${action.name} from`);
        await createAndStart(driver, revision, action.slot, action.name, reason, action.joinWhenReady ?? false);
        break;
      }
      case "start":
        await driver.startContainer(action.id, reason).catch((error) => {
          throw portHeld(error, run.key);
        });
        break;
      case "stop":
        await driver.stopContainer(action.id, service.stopGraceSeconds, reason);
        break;
      case "remove":
        await driver.stopContainer(action.id, service.stopGraceSeconds, reason);
        await driver.removeContainer(action.id, reason);
        break;
      case "join":
        // Docker sets aliases only when a container joins a network: it leaves and joins again, now with them.
        for (const network of action.networks) {
          await driver.disconnectNetwork(network, action.id, reason);
          await driver.connectNetwork(network, action.id, [service.service], reason);
        }
        break;
      case "retire":
        // Off the networks first: the service's name stops resolving to it before it gets SIGTERM.
        for (const network of action.networks) await driver.disconnectNetwork(network, action.id, reason);
        driver.retireContainer(action.id, { graceSeconds: service.stopGraceSeconds, remove: action.remove }, reason);
        break;
      case "prune-images": {
        const removed = await pruneBuiltImages(driver, service, await imagesInUse(driver, run.store));
        if (removed.length) log.info("built images pruned", { service: run.key, images: removed.join(",") });
        continue;
      }
    }
    changes.push(serviceChange(action));
    log.info(DONE_MESSAGE[action.type]!, { target: driver.target, service: run.key, ...("name" in action ? { container: action.name } : { image: action.ref }), reason: action.reason });
  }
  return changes;
}

/**
 * Creates and starts one replica; a container that fails to start is removed,
 * so none is left half-made. `joinWhenReady`: on its networks but without the
 * service's name, so nothing is sent to it before its check passes.
 */
async function createAndStart(driver: Driver, desired: DesiredService, slot: number, name: string, reason: string, joinWhenReady: boolean): Promise<void> {
  const labels = { ...desired.template.Labels, [LABEL.replica]: String(slot), [LABEL.specHash]: desired.specHash, ...(joinWhenReady ? { [LABEL.joinWhenReady]: "true" } : {}) };
  const aliases = joinWhenReady ? [] : [desired.service];
  const networking = joinWhenReady ? { NetworkingConfig: { EndpointsConfig: Object.fromEntries(Object.entries(desired.template.NetworkingConfig?.EndpointsConfig ?? {}).map(([n, endpoint]) => [n, { ...endpoint, Aliases: aliases }])) } } : {};
  const id = await driver.createContainer({ ...desired.template, ...networking, name, Labels: labels }, reason);
  try {
    for (const network of desired.extraNetworks) await driver.connectNetwork(network, id, aliases, reason);
    await driver.startContainer(id, reason);
  } catch (error) {
    await driver.removeContainer(id, `${reason}: clean up after failed start`).catch(() => {});
    throw portHeld(error, desired.key);
  }
}

/**
 * A host port another process holds: Berth frees the ports its own leftovers
 * hold before creating, so this one is held by something Berth does not
 * manage. Waiting will not free it; the error says so (and is still retried).
 */
function portHeld(error: unknown, key: string): unknown {
  const text = error instanceof Error ? error.message : String(error);
  if (!/port is already allocated|address already in use/i.test(text)) return error;
  return new TerminalReconcileError(`${key}: a host port it publishes is held by something Berth does not manage (${text}); expected the port free, e.g. stop what listens there or change spec.ports`, { cause: error, retry: true });
}

/** Images no prune may take: any container's, and those of each service's last few successful revisions (rollback targets). */
async function imagesInUse(driver: Driver, store: Pick<Store, "deployments">): Promise<Set<string>> {
  const keep = new Set((await observeContainers(driver, {})).flatMap((c) => (c.image ? [c.image] : [])));
  const perService = new Map<string, number>();
  for (const row of await store.deployments.list({ limit: 1_000 })) {
    if (row.status !== "success") continue;
    const seen = perService.get(row.service) ?? 0;
    if (seen >= KEEP_BUILT_IMAGES - 1) continue;
    perService.set(row.service, seen + 1);
    keep.add(row.image);
  }
  return keep;
}


/** Builds a Service's image from its build context on the target's engine (no network during the build). */
export async function buildServiceImage(driver: Driver, service: DesiredService, ref: string, key: string, reason: string): Promise<void> {
  const build = service.image.build;
  if (!build) throw new TerminalReconcileError(`${key}: image ${ref} is to be built but the manifest has no build section`);
  await driver.buildImage(
    { context: build.dir, src: build.files },
    { t: ref, dockerfile: build.dockerfile, buildargs: JSON.stringify(build.args ?? {}), target: build.target, networkmode: "none", labels: JSON.stringify({ [LABEL.managed]: "true", [LABEL.project]: service.project, [LABEL.service]: service.service }) },
    reason,
  );
}
