import { describe, expect, it } from "vitest";
import type { Observed, ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredEnvironment, DesiredService } from "../../src/desired/model.ts";
import { adoptedVolumes, describeAdoptedVolumes, describeEnvironmentAction, planEnvironment } from "./plan.ts";

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
  return { id: `id-${service}`, name: `shop-dev-${service}-0-aaaaaaa`, project: "shop", environment: "dev", service, slot: 0, specHash: "a", state: "running", created: 1, addresses: {}, published: {}, networks: [], volumes: [] };
}

const observed = (o: Partial<Observed> = {}): Observed => ({ containers: [], networks: [], volumes: [], adoptedVolumes: [], ...o });
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

describe("adopted volumes (exist under Berth's name, created outside Berth)", () => {
  const present = { networks: [net("shop-dev")], containers: [container("web")] };

  it.each([
    { name: "adopted -> not created", desired: env(), observed: observed({ ...present, adoptedVolumes: ["shop-dev-data"] }), allowPrune: true, want: [] },
    { name: "adopted while manifests are incomplete -> not created", desired: env(), observed: observed({ ...present, adoptedVolumes: ["shop-dev-data"] }), allowPrune: false, want: [] },
    { name: "one adopted, one missing -> only the missing one created", desired: env({ volumes: ["shop-dev-data", "shop-dev-cache"] }), observed: observed({ ...present, adoptedVolumes: ["shop-dev-data"] }), allowPrune: true, want: ["create volume shop-dev-cache (mounted by a service)"] },
    { name: "no longer mounted, pruneVolumes on -> never removed", desired: env({ volumes: [], pruneVolumes: true }), observed: observed({ ...present, adoptedVolumes: ["shop-dev-data"] }), allowPrune: true, want: [] },
    { name: "still mounted, pruneVolumes on -> kept", desired: env({ pruneVolumes: true }), observed: observed({ ...present, adoptedVolumes: ["shop-dev-data"] }), allowPrune: true, want: [] },
    { name: "pruneVolumes on -> only the labelled unmounted volume goes", desired: env({ volumes: [], pruneVolumes: true }), observed: observed({ ...present, volumes: [vol("shop-dev-old")], adoptedVolumes: ["shop-dev-data"] }), allowPrune: true, want: ["remove volume shop-dev-old (not mounted by any service and pruneVolumes is on)"] },
    { name: "environment deleted -> adopted volume kept", desired: undefined, observed: observed({ ...present, adoptedVolumes: ["shop-dev-data"] }), allowPrune: true, want: ["remove container shop-dev-web-0-aaaaaaa (environment no longer declared)", "remove network shop-dev (environment no longer declared)"] },
    { name: "not looked for (no adoptedVolumes) -> created as before", desired: env(), observed: { ...present, volumes: [] }, allowPrune: true, want: ["create volume shop-dev-data (mounted by a service)"] },
  ] satisfies { name: string; desired: DesiredEnvironment | undefined; observed: Observed; allowPrune: boolean; want: string[] }[])("$name", ({ desired, observed, allowPrune, want }) => {
    expect(planEnvironment(desired, observed, { allowPrune }).map(describeEnvironmentAction)).toEqual(want);
  });

  it.each([
    { name: "one adopted", desired: env(), observed: observed({ adoptedVolumes: ["shop-dev-data"] }), want: ["shop-dev-data"] },
    { name: "in the environment's order, only wanted ones", desired: env({ volumes: ["shop-dev-a", "shop-dev-b", "shop-dev-c"] }), observed: observed({ adoptedVolumes: ["shop-dev-c", "shop-dev-zzz", "shop-dev-a"] }), want: ["shop-dev-a", "shop-dev-c"] },
    { name: "labelled wins over adopted", desired: env(), observed: observed({ volumes: [vol("shop-dev-data")], adoptedVolumes: ["shop-dev-data"] }), want: [] },
    { name: "none", desired: env(), observed: observed({ volumes: [vol("shop-dev-data")] }), want: [] },
    { name: "not looked for", desired: env(), observed: { containers: [], networks: [], volumes: [] }, want: [] },
    { name: "environment deleted", desired: undefined, observed: observed({ adoptedVolumes: ["shop-dev-data"] }), want: [] },
  ] satisfies { name: string; desired: DesiredEnvironment | undefined; observed: Observed; want: string[] }[])("adoptedVolumes: $name", ({ desired, observed, want }) => {
    expect(adoptedVolumes(desired, observed)).toEqual(want);
  });

  it.each([
    { names: [], want: "" },
    { names: ["demo-development-data"], want: "volume demo-development-data adopted (created outside Berth, kept as it is)" },
    { names: ["shop-dev-a", "shop-dev-b"], want: "volumes shop-dev-a, shop-dev-b adopted (created outside Berth, kept as they are)" },
  ])("describes $names", ({ names, want }) => {
    expect(describeAdoptedVolumes(names)).toBe(want);
  });
});
