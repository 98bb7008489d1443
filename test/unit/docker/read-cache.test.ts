import { describe, expect, it } from "vitest";
import { CachedDriver, matches } from "../../../src/docker/read-cache.ts";
import { ownerFilter } from "../../../src/docker/labels.ts";
import { fakeWorld } from "../../support/fake-world.ts";

const labels = (scope: Parameters<typeof ownerFilter>[0] = {}) => ownerFilter({ target: "local", ...scope });

/** A world with two environments' containers, read through the cache; `now` is the cache's clock. */
async function setup() {
  const world = fakeWorld({ images: ["app:1"] });
  let now = 0;
  const cached = new CachedDriver(world, () => now, 1_000);
  await world.createNetwork({ Name: "shop-dev", Labels: { "dev.berth.managed": "true", "dev.berth.target": "local", "dev.berth.environment": "dev" } }, "test");
  const make = async (name: string, environment: string, service: string) => {
    const l = { "dev.berth.managed": "true", "dev.berth.target": "local", "dev.berth.project": "shop", "dev.berth.environment": environment, "dev.berth.service": service };
    const id = await world.createContainer({ name, Image: "app:1", Labels: l, HostConfig: { NetworkMode: "shop-dev" } }, "test");
    await world.startContainer(id, "test");
    return id;
  };
  await make("web-dev", "dev", "web");
  await make("db-dev", "dev", "db");
  await make("web-prod", "prod", "web");
  world.resetCalls();
  const lists = () => world.calls.filter((c) => c.operation === "container.list").length;
  return { world, cached, make, lists, tick: (ms: number) => (now += ms) };
}

describe("CachedDriver", () => {
  it("answers every scoped list of the target from one list call, narrowed as Docker's label filter would", async () => {
    const { cached, lists } = await setup();
    const [dev, web, all] = await Promise.all([cached.listContainers(labels({ environment: "dev" })), cached.listContainers(labels({ service: "web" })), cached.listContainers(labels())]);
    expect(dev.map((c) => c.Names[0]).sort()).toEqual(["/db-dev", "/web-dev"]);
    expect(web.map((c) => c.Names[0]).sort()).toEqual(["/web-dev", "/web-prod"]);
    expect(all).toHaveLength(3);
    await cached.listContainers(labels({ environment: "prod" }));
    expect(lists()).toBe(1);
  });

  it("passes through a list that is not scoped to the target's own objects", async () => {
    const { cached, lists } = await setup();
    await cached.listContainers(["dev.berth.managed=true"]);
    await cached.listContainers(["dev.berth.managed=true"]);
    expect(lists()).toBe(2);
  });

  it("reads again after a change made through it: a created container is seen at once", async () => {
    const { cached, lists, world } = await setup();
    expect(await cached.listContainers(labels({ environment: "dev" }))).toHaveLength(2);
    const id = await cached.createContainer({ name: "worker-dev", Image: "app:1", Labels: { "dev.berth.managed": "true", "dev.berth.target": "local", "dev.berth.environment": "dev" } }, "test");
    expect((await cached.listContainers(labels({ environment: "dev" }))).map((c) => c.Id)).toContain(id);
    expect(lists()).toBe(2);
    await cached.removeContainer(id, "test");
    expect((await cached.listContainers(labels({ environment: "dev" }))).map((c) => c.Id)).not.toContain(id);
    expect(world.container(id)).toBeUndefined();
  });

  it("a reader arriving after a change never gets the answer of a list that began before it", async () => {
    const { cached, world } = await setup();
    const before = cached.listContainers(labels());
    world.delete(world.containers({ service: "db" })[0]!.id);
    cached.invalidate();
    const after = await cached.listContainers(labels());
    expect(after.map((c) => c.Names[0])).not.toContain("/db-dev");
    expect(await before).toHaveLength(3);
  });

  it("an engine event (invalidate) or the age limit makes the next read ask the engine", async () => {
    const { cached, lists, tick } = await setup();
    await cached.listContainers(labels());
    cached.invalidate();
    await cached.listContainers(labels());
    expect(lists()).toBe(2);
    tick(999);
    await cached.listContainers(labels());
    expect(lists()).toBe(2);
    tick(1);
    await cached.listContainers(labels());
    expect(lists()).toBe(3);
  });

  it("does not remember a failed read", async () => {
    const { cached, world, lists } = await setup();
    world.failNext("container.list", { statusCode: 500, message: "boom" });
    await expect(cached.listContainers(labels())).rejects.toThrow(/boom/);
    expect(await cached.listContainers(labels())).toHaveLength(3);
    expect(lists()).toBe(2);
  });

  it("asks about an image once until something changes images", async () => {
    const { cached, world } = await setup();
    const inspects = () => world.calls.filter((c) => c.operation === "image.inspect").length;
    expect(await Promise.all([cached.imageExists("app:1"), cached.imageExists("app:1"), cached.imageExists("app:2")])).toEqual([true, true, false]);
    expect(inspects()).toBe(2);
    world.allowPull("app:2");
    await cached.pullImage("app:2", "test");
    expect(await cached.imageExists("app:2")).toBe(true);
    expect(inspects()).toBe(3);
  });

  it("networks and volumes are read once per kind too", async () => {
    const { cached, world } = await setup();
    await Promise.all([cached.listNetworks(labels({ environment: "dev" })), cached.listNetworks(labels()), cached.listVolumes(labels()), cached.listVolumes(labels({ environment: "dev" }))]);
    expect(world.calls.filter((c) => c.operation === "network.list")).toHaveLength(1);
    expect(world.calls.filter((c) => c.operation === "volume.list")).toHaveLength(1);
  });
});

describe("matches (Docker's label filter)", () => {
  it.each([
    [{ a: "1", b: "2" }, ["a=1"], true],
    [{ a: "1" }, ["a=2"], false],
    [{ a: "1" }, ["a"], true],
    [{ a: "" }, ["a="], true],
    [{ b: "1" }, ["a"], false],
    [{ a: "x=y" }, ["a=x=y"], true],
    [{ a: "1", b: "2" }, ["a=1", "b=3"], false],
    [{}, [], true],
  ])("%o against %o: %s", (labels, filter, expected) => {
    expect(matches(labels, filter)).toBe(expected);
  });
});
