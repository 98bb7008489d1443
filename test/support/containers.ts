import type { ObservedContainer } from "../../src/docker/observe.ts";

let created = 1000;

/** A running container of shop/dev/web in `slot` on the environment's network, named as Berth names it; each call is newer than the last. */
export function observedContainer(slot: number, specHash: string, overrides: Partial<ObservedContainer> = {}): ObservedContainer {
  const n = created++;
  return {
    id: `id-${slot}-${specHash.slice(0, 1)}-${n}`,
    name: `shop-dev-web-${slot}-${specHash.slice(0, 7)}`,
    project: "shop",
    environment: "dev",
    service: "web",
    slot,
    specHash,
    state: "running",
    created: n,
    addresses: {},
    published: {},
    networks: ["shop-dev"],
    volumes: [],
    ...overrides,
  };
}
