import { describe, expect, it } from "vitest";
import type { Observed, ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredEnvironment, DesiredService } from "../../src/desired/model.ts";
import { describeEnvironmentAction, planEnvironment } from "./plan.ts";

function env(overrides: Partial<DesiredEnvironment> = {}): DesiredEnvironment {
  return {
    key: "Environment/dev",
    project: "shop",
    environment: "dev",
    target: "local",
    suspended: false,
    pruneVolumes: false,
    network: "shop-dev",
    extraNetworks: [],
    volumes: ["shop-dev-data"],
    services: [{ service: "web" } as DesiredService],
    labels: {},
    ...overrides,
  };
}

function container(service: string): ObservedContainer {
  return { id: `id-${service}`, name: `shop-dev-${service}-0-aaaaaaa`, project: "shop", environment: "dev", service, slot: 0, specHash: "a", state: "running", created: 1, addresses: {}, published: {} };
}

const observed = (o: Partial<Observed> = {}): Observed => ({ containers: [], networks: [], volumes: [], ...o });
const net = (name: string) => ({ id: `net-${name}`, name, project: "shop", environment: "dev" });
const vol = (name: string) => ({ name, project: "shop", environment: "dev" });

describe("planEnvironment", () => {
  it.each([
    { name: "fresh environment -> network and volume", desired: env(), observed: observed(), allowPrune: true, want: ["create network shop-dev (declared by the environment)", "create volume shop-dev-data (mounted by a service)"] },
    { name: "everything present -> nothing", desired: env(), observed: observed({ networks: [net("shop-dev")], volumes: [vol("shop-dev-data")], containers: [container("web")] }), allowPrune: true, want: [] },
    { name: "service removed -> its containers go, its volume stays", desired: env({ volumes: [] }), observed: observed({ networks: [net("shop-dev")], volumes: [vol("shop-dev-data")], containers: [container("web"), container("old")] }), allowPrune: true, want: ["remove container shop-dev-old-0-aaaaaaa (service no longer declared)"] },
    { name: "unmounted volume with pruneVolumes -> removed", desired: env({ volumes: [], pruneVolumes: true }), observed: observed({ networks: [net("shop-dev")], volumes: [vol("shop-dev-data")] }), allowPrune: true, want: ["remove volume shop-dev-data (not mounted by any service and pruneVolumes is on)"] },
    { name: "environment deleted -> containers, then network; volumes kept", desired: undefined, observed: observed({ networks: [net("shop-dev")], volumes: [vol("shop-dev-data")], containers: [container("web")] }), allowPrune: true, want: ["remove container shop-dev-web-0-aaaaaaa (environment no longer declared)", "remove network shop-dev (environment no longer declared)"] },
    { name: "incomplete manifests -> create, never prune", desired: undefined, observed: observed({ networks: [net("shop-dev")], containers: [container("web")] }), allowPrune: false, want: [] },
    { name: "extra network declared -> created; undeclared one -> removed", desired: env({ extraNetworks: ["shop-dev-backend"], volumes: [] }), observed: observed({ networks: [net("shop-dev"), net("shop-dev-legacy")] }), allowPrune: true, want: ["create network shop-dev-backend (declared by the environment)", "remove network shop-dev-legacy (network no longer declared)"] },
  ])("$name", ({ desired, observed, allowPrune, want }) => {
    expect(planEnvironment(desired, observed, { allowPrune }).map(describeEnvironmentAction)).toEqual(want);
  });
});
