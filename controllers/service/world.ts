import { observe, observeContainers, type ContainerHealth, type ObserveDriver, type ObservedContainer } from "../../src/docker/observe.ts";
import type { Driver } from "../../src/docker/driver.ts";
import type { DesiredModel, DesiredService } from "../../src/desired/model.ts";
import { dnsLabel } from "../../src/compose/fields.ts";
import type { Adoptee, ServiceRecords, ServiceWorld } from "./decision.ts";
import { hostPortsOf } from "./ports.ts";

/** What Berth's prober knows of a container: its status for http/tcp checks, and the latest output. */
export interface ProbeView {
  status(containerId: string): ContainerHealth | undefined;
  lastOutput(containerId: string): string | undefined;
}

/** Networks and volumes a dry run assumes exist because the same plan creates them first. */
export interface Assumed {
  networks: readonly string[];
  volumes: readonly string[];
}

/**
 * One look at everything a service's decision needs: the environment's
 * containers, networks and volumes, the target's host-port holders when the
 * service publishes any, and the images a step may need. Read-only.
 */
export async function observeService(
  manifest: DesiredService,
  records: ServiceRecords,
  model: DesiredModel,
  driver: ObserveDriver & Pick<Driver, "imageExists" | "containerAliases" | "isRetiring" | "listContainers">,
  probes: ProbeView,
  now: number,
  assumed?: Assumed,
): Promise<ServiceWorld> {
  const environment = model.environments.get(manifest.environment);
  const observed = await observe(driver, { project: manifest.project, environment: manifest.environment }, environment?.volumes ?? []);
  const network = manifest.template.HostConfig?.NetworkMode ?? "";
  const own = observed.containers.filter((c) => c.service === manifest.service);
  await markUnjoined(driver, own, network, manifest.service);
  for (const c of own) if (driver.isRetiring(c.id)) c.retiring = true;
  const portHolders = hostPortsOf(manifest).size ? (await observeContainers(driver, {})).filter((c) => Object.keys(c.published).length > 0) : [];
  const images: Record<string, boolean> = {};
  for (const ref of imagesToCheck(manifest, records, own)) images[ref] = await driver.imageExists(ref);
  const probed: Record<string, ContainerHealth | undefined> = {};
  const checkOutput: Record<string, string | undefined> = {};
  // Dependencies are judged by the health of their containers too.
  for (const c of observed.containers) probed[c.id] = probes.status(c.id);
  for (const c of own) checkOutput[c.id] = probes.lastOutput(c.id);
  const adoptees = manifest.adoptCompose ? await composeContainers(driver, manifest.adoptCompose, manifest.service) : undefined;
  const declared = new Set<string>();
  for (const s of model.services.values()) if (s.target === manifest.target) declared.add(`${s.environment}/${s.service}`);
  return {
    now,
    containers: observed.containers,
    portHolders,
    networks: [...observed.networks.map((n) => n.name), ...(assumed?.networks ?? [])],
    volumes: [...observed.volumes.map((v) => v.name), ...(observed.adoptedVolumes ?? []), ...(assumed?.volumes ?? [])],
    images,
    probed,
    checkOutput,
    declared,
    ...(adoptees ? { adoptees } : {}),
  };
}

/** The containers compose made for `service` in `project`, by compose's own labels (its service names made DNS labels, as imported). */
async function composeContainers(driver: Pick<Driver, "listContainers">, project: string, service: string): Promise<Adoptee[]> {
  const listed = await driver.listContainers([`com.docker.compose.project=${project}`]);
  return listed
    .filter((c) => dnsLabel(c.Labels?.["com.docker.compose.service"] ?? "") === service)
    .map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? c.Id).replace(/^\//, ""), state: c.State }));
}

/**
 * Marks the containers a rollout created outside the service's name that
 * have not joined it. A list does not show aliases: only those created so
 * are inspected, and the driver remembers the answer until Berth changes
 * their networks, so a steady pass inspects nothing new.
 */
async function markUnjoined(driver: Pick<Driver, "containerAliases">, own: ObservedContainer[], network: string, service: string): Promise<void> {
  for (const c of own) {
    if (!c.joinWhenReady || !c.networks.includes(network)) continue;
    if (c.state === "created") c.unjoined = true;
    else if (c.state === "running" || c.state === "restarting") c.unjoined = !((await driver.containerAliases(c.id))[network] ?? []).includes(service);
  }
}

/**
 * Images whose presence can change the decision: the one a rollout builds or
 * restores, or the wanted revision's when a slot lacks its container. Checked
 * only then, so a steady pass makes no image call.
 */
function imagesToCheck(manifest: DesiredService, records: ServiceRecords, own: readonly ObservedContainer[]): string[] {
  const at = (revision: string | undefined) => (revision === manifest.specHash ? manifest : revision ? records.at.get(revision) : undefined);
  const rollout = records.rollout;
  if (rollout) {
    const refs = [at(rollout.context.revision)?.image.ref];
    if (rollout.state === "rollingBack" || rollout.state === "verifyingRollback") refs.push(at(rollout.context.previous)?.image.ref);
    return refs.filter((r): r is string => !!r);
  }
  // A pin holds only while the manifest asks for the revision it was set against.
  const pin = records.pin?.manifestRevision === manifest.specHash ? records.pin : undefined;
  const wanted = pin ? at(pin.runRevision ?? undefined) : manifest;
  if (!wanted) return [];
  // A rollout may begin (another revision recorded or running) or a slot may need a container: its image matters.
  const current = own.filter((c) => c.specHash === wanted.specHash && c.state !== "dead" && c.slot >= 0 && c.slot < wanted.replicas).length;
  const others = own.some((c) => c.specHash !== wanted.specHash && c.state === "running");
  return current < wanted.replicas || others || records.deployed !== wanted.specHash ? [wanted.image.ref] : [];
}
