import type { Driver } from "../../src/docker/driver.ts";

/** What taking over a compose project still waits for, and the networks of it this pass removed (or would, in a dry run). */
export interface ComposeTakeover {
  /** Compose's containers still there: each Service replaces its own. */
  remaining: number;
  networks: string[];
}

/**
 * The environment's share of adopting a compose project: once every
 * container compose made is gone (each Service replaced its own), compose's
 * networks go too. Its volumes stay: they are the data, used in place.
 */
export async function finishComposeTakeover(driver: Pick<Driver, "listContainers" | "listNetworks" | "removeNetwork">, project: string, options: { dryRun: boolean; key: string }): Promise<ComposeTakeover> {
  const label = `com.docker.compose.project=${project}`;
  const remaining = (await driver.listContainers([label])).length;
  if (remaining > 0) return { remaining, networks: [] };
  const networks = await driver.listNetworks([label]);
  if (!options.dryRun) for (const n of networks) await driver.removeNetwork(n.Id, `compose project ${project} adopted by ${options.key}: nothing uses it`);
  return { remaining: 0, networks: networks.map((n) => n.Name) };
}
