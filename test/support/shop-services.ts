import { buildDesiredModel, type DesiredService } from "../../src/desired/model.ts";
import { loadManifests } from "../../src/manifests/load.ts";
import { createManifestDir } from "./manifest-dir.ts";
import { shopFiles, type Shop } from "./shop.ts";

/**
 * The Services of a Shop as the real loader and model build them, keyed
 * `<environment>/<service>` (e.g. `dev/web`). Services whose spec cannot be
 * deployed are kept, with their `error`; invalid manifests throw. The
 * manifests directory is removed before this returns.
 */
export async function shopServices(shop: Shop): Promise<Map<string, DesiredService>> {
  const dir = createManifestDir(shopFiles(shop));
  try {
    const state = await loadManifests(dir.dir);
    if (state.errors.length) throw new Error(`test manifests are invalid: ${state.errors.map((e) => e.message).join("; ")}`);
    const services = new Map<string, DesiredService>();
    for (const s of buildDesiredModel(state).services.values()) services.set(`${s.environment}/${s.service}`, s);
    return services;
  } finally {
    dir.cleanup();
  }
}

/** One Service of a Shop, by `<environment>/<service>`; throws when the model has none. */
export async function shopService(shop: Shop, name: string): Promise<DesiredService> {
  const service = (await shopServices(shop)).get(name);
  if (!service) throw new Error(`${name} is not in the test model`);
  return service;
}
