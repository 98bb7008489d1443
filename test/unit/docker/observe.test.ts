import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { observe, type ObserveDriver } from "../../../src/docker/observe.ts";

// ---------------------------------------------------------------------------
// A stub engine: only the list calls observe makes, over a fixed set of volumes.
// ---------------------------------------------------------------------------

const OWNED = { "dev.berth.managed": "true", "dev.berth.target": "local", "dev.berth.project": "shop", "dev.berth.environment": "dev" };

function volume(name: string, labels: Record<string, string> | null = null): Docker.VolumeInspectInfo {
  return { Name: name, Driver: "local", Mountpoint: `/var/lib/docker/volumes/${name}/_data`, Labels: labels, Scope: "local", Options: null } as unknown as Docker.VolumeInspectInfo;
}

/** An engine holding these volumes; records which calls observe made. */
function engine(volumes: Docker.VolumeInspectInfo[]) {
  const calls: string[] = [];
  const hasAll = (v: Docker.VolumeInspectInfo, filters: string[]) =>
    filters.every((f) => {
      const [key, value] = f.split("=") as [string, string];
      return v.Labels?.[key] === value;
    });
  const driver: ObserveDriver = {
    target: "local",
    listContainers: async () => (calls.push("containers"), []),
    listNetworks: async () => (calls.push("networks"), []),
    listVolumes: async (filters) => (calls.push("volumes"), volumes.filter((v) => hasAll(v, filters))),
    volumesNamed: async (names) => (calls.push(`named ${names.join(",")}`), volumes.filter((v) => names.includes(v.Name))),
  };
  return { driver, calls };
}

const scope = { project: "shop", environment: "dev" };

describe("observe", () => {
  it("without wanted volumes: three list calls, labelled volumes only, adoptedVolumes absent", async () => {
    const { driver, calls } = engine([volume("shop-dev-data", OWNED), volume("shop-dev-cache")]);
    const observed = await observe(driver, scope);
    expect(observed.volumes).toEqual([{ name: "shop-dev-data", project: "shop", environment: "dev" }]);
    expect(observed.adoptedVolumes).toBeUndefined();
    expect(calls.sort()).toEqual(["containers", "networks", "volumes"]);
  });

  it("reports a wanted volume that exists without Berth's labels as adopted, not as Berth's", async () => {
    const { driver, calls } = engine([volume("shop-dev-data")]);
    const observed = await observe(driver, scope, ["shop-dev-data"]);
    expect(observed.volumes).toEqual([]);
    expect(observed.adoptedVolumes).toEqual(["shop-dev-data"]);
    expect(calls).toContain("named shop-dev-data");
  });

  it("asks by name only for wanted volumes missing from the labelled ones", async () => {
    const { driver, calls } = engine([volume("shop-dev-data", OWNED), volume("shop-dev-cache"), volume("other")]);
    const observed = await observe(driver, scope, ["shop-dev-data", "shop-dev-cache", "shop-dev-uploads"]);
    expect(observed.volumes.map((v) => v.name)).toEqual(["shop-dev-data"]);
    expect(observed.adoptedVolumes).toEqual(["shop-dev-cache"]);
    expect(calls.filter((c) => c.startsWith("named"))).toEqual(["named shop-dev-cache,shop-dev-uploads"]);
  });

  it("treats a volume labelled for another environment or target as not Berth's here", async () => {
    const { driver } = engine([volume("shop-dev-data", { ...OWNED, "dev.berth.target": "elsewhere" })]);
    expect((await observe(driver, scope, ["shop-dev-data"])).adoptedVolumes).toEqual(["shop-dev-data"]);
  });

  it.each([
    { what: "no wanted volumes", wanted: [] as string[] },
    { what: "every wanted volume labelled", wanted: ["shop-dev-data"] },
  ])("makes no extra call with $what", async ({ wanted }) => {
    const { driver, calls } = engine([volume("shop-dev-data", OWNED)]);
    const observed = await observe(driver, scope, wanted);
    expect(observed.adoptedVolumes).toEqual([]);
    expect(calls).toHaveLength(3);
  });
});
