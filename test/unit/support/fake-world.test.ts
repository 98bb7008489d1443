import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { type DockerCall, DockerCallError, type EngineEvent } from "../../../src/docker/driver.ts";
import { LABEL, ownerFilter } from "../../../src/docker/labels.ts";
import { toObservedContainer } from "../../../src/docker/observe.ts";
import { fakeWorld, type FakeWorld } from "../../support/fake-world.ts";

const IMAGE = "busybox:1.36";

/** Create options shaped like src/desired/container-spec.ts makes them, for shop/dev/web in `slot`. */
function web(slot: number, overrides: Partial<Docker.ContainerCreateOptions> & { hostPort?: number } = {}): Docker.ContainerCreateOptions {
  const { hostPort, ...rest } = overrides;
  return {
    name: `shop-dev-web-${slot}-aaaaaaa`,
    Image: IMAGE,
    Labels: {
      [LABEL.managed]: "true",
      [LABEL.target]: "local",
      [LABEL.project]: "shop",
      [LABEL.environment]: "dev",
      [LABEL.service]: "web",
      [LABEL.replica]: String(slot),
      [LABEL.specHash]: "aaaaaaa1234",
    },
    ExposedPorts: { "80/tcp": {} },
    Healthcheck: { Test: ["CMD", "true"], Interval: 1e9 },
    HostConfig: {
      NetworkMode: "shop-dev",
      PortBindings: hostPort === undefined ? undefined : { "80/tcp": [{ HostIp: "", HostPort: String(hostPort) }] },
      Mounts: [{ Type: "volume", Source: "shop-dev-data", Target: "/data" }],
    },
    NetworkingConfig: { EndpointsConfig: { "shop-dev": { Aliases: ["web"] } } },
    ...rest,
  };
}

/** A world with the image and the environment's network, as Berth would have made it. */
async function world(options: Parameters<typeof fakeWorld>[0] = {}): Promise<FakeWorld> {
  const w = fakeWorld({ images: [IMAGE], ...options });
  await w.createNetwork({ Name: "shop-dev", Labels: { [LABEL.managed]: "true", [LABEL.target]: "local" } }, "setup");
  w.resetCalls();
  return w;
}

async function rejection(promise: Promise<unknown>): Promise<DockerCallError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DockerCallError);
  return error as DockerCallError;
}

const observed = async (w: FakeWorld) => (await w.listContainers(ownerFilter({ target: w.target }))).map(toObservedContainer);

describe("fake world: list output", () => {
  it("is parsed by toObservedContainer into state, health, slot, spec hash, addresses and published ports", async () => {
    const w = await world();
    const id = await w.createContainer(web(1, { hostPort: 8080 }), "test");
    await w.startContainer(id, "test");
    w.clock.advance(3_000);
    const [c] = await observed(w);
    expect(c).toMatchObject({ id, name: "shop-dev-web-1-aaaaaaa", image: IMAGE, project: "shop", environment: "dev", service: "web", slot: 1, specHash: "aaaaaaa1234", state: "running", health: "healthy" });
    expect(c!.published).toEqual({ "80/tcp": 8080 });
    expect(c!.addresses).toEqual({ "shop-dev": "172.30.1.2" });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const [info] = await w.listContainers([]);
    expect(info!.Status).toBe("Up 3 seconds (healthy)");
  });

  it("writes Docker's status texts for exited, starting, unhealthy and created containers", async () => {
    const w = await world();
    w.behave((c) => c.slot === 0, { exitCode: 3 });
    w.behave((c) => c.slot === 1, { health: "starting" });
    const ids = await Promise.all([0, 1, 2, 3].map((slot) => w.createContainer(web(slot), "test")));
    for (const id of ids.slice(0, 3)) await w.startContainer(id, "test");
    w.setHealth(ids[2]!, "unhealthy");
    w.clock.advance(2_000);
    expect((await w.listContainers([])).map((c) => c.Status)).toEqual(["Exited (3) 2 seconds ago", "Up 2 seconds (health: starting)", "Up 2 seconds (unhealthy)", "Created"]);
    const parsed = await observed(w);
    expect(parsed.map((c) => [c.state, c.exitCode, c.health])).toEqual([
      ["exited", 3, undefined],
      ["running", undefined, "starting"],
      ["running", undefined, "unhealthy"],
      ["created", undefined, undefined],
    ]);
    expect(parsed[0]!.addresses).toEqual({}); // a stopped container holds no address
  });

  it("reports Docker health only for containers with a Healthcheck, while world.health serves http/tcp checks", async () => {
    const w = await world();
    const id = await w.createContainer(web(0, { Healthcheck: undefined }), "test");
    await w.startContainer(id, "test");
    expect((await observed(w))[0]!.health).toBeUndefined();
    expect(w.health(id)).toBe("healthy");
    w.setHealth(id, "unhealthy");
    expect(w.health(id)).toBe("unhealthy");
    expect((await w.listContainers([]))[0]!.Status).toBe("Up Less than a second");
  });

  it("filters every list by labels as Docker does: key present, key=value exact, all must match", async () => {
    const w = await world();
    await w.createVolume({ Name: "a", Labels: { [LABEL.managed]: "true", [LABEL.project]: "shop" } }, "test");
    await w.createVolume({ Name: "b", Labels: { [LABEL.managed]: "false" } }, "test");
    await w.createVolume({ Name: "c" }, "test");
    const names = async (labels: string[]) => (await w.listVolumes(labels)).map((v) => v.Name).sort();
    expect(await names([LABEL.managed])).toEqual(["a", "b"]);
    expect(await names([`${LABEL.managed}=true`])).toEqual(["a"]);
    expect(await names([`${LABEL.managed}=true`, `${LABEL.project}=other`])).toEqual([]);
    expect((await w.volumesNamed(["c", "a", "nope"])).map((v) => v.Name).sort()).toEqual(["a", "c"]);
    expect((await w.listNetworks(ownerFilter({ target: "local" }))).map((n) => n.Name)).toEqual(["shop-dev"]);
    expect((await w.listNetworks(ownerFilter({ target: "other" }))).map((n) => n.Name)).toEqual([]);
    await w.createContainer(web(0, { Labels: { [LABEL.managed]: "true", [LABEL.target]: "other" } }), "test");
    expect(await w.listContainers(ownerFilter({ target: "local" }))).toEqual([]);
  });
});

describe("fake world: Docker's answers", () => {
  it("refuses a taken name (409), a missing image (404) and a missing network (404)", async () => {
    const w = await world();
    await w.createContainer(web(0), "test");
    const taken = await rejection(w.createContainer(web(0), "test"));
    expect(taken.statusCode).toBe(409);
    expect(taken.operation).toBe("container.create");
    const noImage = await rejection(w.createContainer(web(1, { Image: "nginx" }), "test"));
    expect([noImage.statusCode, noImage.message]).toEqual([404, expect.stringContaining("No such image: nginx")]);
    expect((await rejection(w.createContainer(web(2, { HostConfig: { NetworkMode: "gone" } }), "test"))).statusCode).toBe(404);
  });

  it("fails a start whose host port a running container holds (500), and frees it when that one stops", async () => {
    const w = await world();
    const first = await w.createContainer(web(0, { hostPort: 8080 }), "test");
    const second = await w.createContainer(web(1, { hostPort: 8080 }), "test");
    await w.startContainer(first, "test");
    const error = await rejection(w.startContainer(second, "test"));
    expect(error.statusCode).toBe(500);
    expect(error.message).toMatch(/driver failed programming external connectivity .*Bind for 0\.0\.0\.0:8080 failed: port is already allocated/);
    expect(w.container(second)!.state).toBe("created");
    await w.stopContainer(first, undefined, "test");
    await w.startContainer(second, "test");
    expect((await observed(w)).find((c) => c.id === second)!.published).toEqual({ "80/tcp": 8080 });
  });

  it("treats repeated starts, stops and removals as no-ops, recording the engine's 304/404 as DockerDriver's hooks do", async () => {
    const w = await world();
    const id = await w.createContainer(web(0), "test");
    await w.startContainer(id, "test");
    await w.startContainer(id, "again");
    await w.removeContainer(id, "force"); // running: removed anyway
    await w.stopContainer(id, 10, "gone");
    await w.removeContainer(id, "gone");
    await w.removeNetwork("nope", "gone");
    await w.removeVolume("nope", "gone");
    await w.removeImage("nope:1", "gone");
    expect(w.containers()).toEqual([]);
    expect(w.calls.map((c) => `${c.operation} ${c.outcome}`)).toEqual([
      "container.create ok",
      "container.start ok",
      "container.start error",
      "container.remove ok",
      "container.stop error",
      "container.remove error",
      "network.remove error",
      "volume.remove error",
      "image.remove error",
    ]);
    expect(w.calls[2]!.error).toContain("HTTP 304");
  });

  it("refuses a duplicate network (409) and removing one with running containers (403); connects with an address", async () => {
    const w = await world();
    expect((await rejection(w.createNetwork({ Name: "shop-dev", CheckDuplicate: true }, "test"))).statusCode).toBe(409);
    await w.createNetwork({ Name: "edge" }, "test");
    const id = await w.createContainer(web(0), "test");
    await w.connectNetwork("edge", id, ["web"], "test");
    await w.startContainer(id, "test");
    expect((await observed(w))[0]!.addresses).toEqual({ "shop-dev": "172.30.1.2", edge: "172.30.2.2" });
    expect((await rejection(w.removeNetwork("edge", "test"))).statusCode).toBe(403);
    await w.stopContainer(id, undefined, "test");
    await w.removeNetwork("edge", "test");
    expect(w.networks().map((n) => n.name)).toEqual(["shop-dev"]);
  });

  it("keeps an existing volume's labels on create, creates mounted volumes on container create, and keeps data", async () => {
    const w = await world();
    await w.createVolume({ Name: "by-hand", Labels: { owner: "ops" } }, "test");
    await w.createVolume({ Name: "by-hand", Labels: { [LABEL.managed]: "true" } }, "test");
    expect(w.volume("by-hand")!.labels).toEqual({ owner: "ops" });
    const id = await w.createContainer(web(0, { HostConfig: { NetworkMode: "shop-dev", Binds: ["cache:/cache"], Mounts: [{ Type: "volume", Source: "shop-dev-data", Target: "/data", VolumeOptions: { NoCopy: false, Labels: { [LABEL.managed]: "true" }, DriverConfig: { Name: "local", Options: {} } } }] } }), "test");
    expect(w.volume("cache")!.labels).toEqual({});
    expect(w.volume("shop-dev-data")!.labels).toEqual({ [LABEL.managed]: "true" }); // a mount's own labels, as Docker applies them
    w.volume("shop-dev-data")!.files["db"] = "rows";
    expect((await rejection(w.removeVolume("shop-dev-data", "test"))).statusCode).toBe(409);
    await w.removeContainer(id, "test");
    await w.createContainer(web(1), "test");
    expect(w.volume("shop-dev-data")!.files).toEqual({ db: "rows" });
  });

  it("pulls only pullable refs, builds with labels, and leaves a rebuilt tag's old image dangling", async () => {
    const w = await world({ pullable: ["nginx:1.27"] });
    await w.pullImage("docker.io/library/nginx:1.27", "test");
    expect(await w.imageExists("nginx:1.27")).toBe(true);
    const denied = await rejection(w.pullImage("private/app:1", "test"));
    expect([denied.statusCode, denied.message]).toEqual([404, expect.stringContaining("pull access denied")]);
    expect(await w.imageExists("private/app:1")).toBe(false);
    const labels = JSON.stringify({ [LABEL.managed]: "true", [LABEL.service]: "web" });
    await w.buildImage({ context: ".", src: [] }, { t: "shop/web:r1", labels }, "test");
    const id = await w.createContainer(web(0, { Image: "shop/web:r1" }), "test");
    await w.buildImage({ context: ".", src: [] }, { t: "shop/web:r1", labels }, "test");
    const built = await w.listImages([`${LABEL.service}=web`]);
    expect(built.map((i) => i.RepoTags)).toEqual([["<none>:<none>"], ["shop/web:r1"]]);
    expect((await w.listContainers([]))[0]!.Image).toBe(built[0]!.Id); // Docker shows the old image by id
    expect((await rejection(w.removeImage(built[0]!.Id, "test"))).statusCode).toBe(409);
    await w.removeContainer(id, "test");
    await w.removeImage(built[0]!.Id, "test");
    expect(w.images().map((i) => i.refs)).toEqual([[IMAGE], ["nginx:1.27"], ["shop/web:r1"]]);
  });
});

describe("fake world: events", () => {
  it("delivers container events matching the filters, after subscribing, until the signal aborts", async () => {
    const w = await world();
    await w.createContainer(web(9), "before subscribing");
    const seen: EngineEvent[] = [];
    const abort = new AbortController();
    const done = w.events(ownerFilter({ target: "local" }), (e) => seen.push(e), abort.signal);
    const id = await w.createContainer(web(0), "test");
    await w.createContainer(web(1, { Labels: { [LABEL.managed]: "true", [LABEL.target]: "other" } }), "not ours");
    await w.startContainer(id, "test");
    w.crash(id, 2);
    await w.removeContainer(id, "test");
    expect(seen.map((e) => e.action)).toEqual(["create", "start", "health_status: healthy", "die", "destroy"]);
    expect(seen[3]!.labels).toMatchObject({ name: "shop-dev-web-0-aaaaaaa", exitCode: "2", [LABEL.service]: "web" });
    expect(seen.every((e) => e.type === "container" && e.id === id && e.time === Math.floor(w.clock.now() / 1000))).toBe(true);
    abort.abort();
    await done;
    await w.createContainer(web(2), "after");
    await Promise.resolve();
    expect(seen).toHaveLength(5);
  });

  it("emits kill, die and stop for a graceful stop", async () => {
    const w = await world();
    const id = await w.createContainer(web(0, { Healthcheck: undefined }), "test");
    await w.startContainer(id, "test");
    await w.stopContainer(id, undefined, "test");
    expect(w.eventLog.map((e) => e.action)).toEqual(["create", "start", "kill", "die", "stop"]);
    expect(w.eventLog[3]!.labels.exitCode).toBe("0");
  });
});

describe("fake world: scripting and recording", () => {
  it("fails the next N calls of an operation with a DockerCallError, recorded and reported to hooks", async () => {
    const reported: DockerCall[] = [];
    const before: string[] = [];
    const w = await world({ hooks: { onCall: (c) => reported.push(c), beforeCall: (c) => before.push(c.operation) } });
    w.failNext("container.start", { statusCode: 500, message: "boom" }, 2);
    const id = await w.createContainer(web(0), "create web-0");
    expect((await rejection(w.startContainer(id, "start"))).message).toContain("boom (HTTP 500)");
    expect((await rejection(w.startContainer(id, "start"))).statusCode).toBe(500);
    await w.startContainer(id, "start");
    w.failNext("container.list", { statusCode: 503 });
    await rejection(w.listContainers([]));
    expect(w.mutations().map((c) => [c.operation, c.outcome])).toEqual([
      ["container.create", "ok"],
      ["container.start", "error"],
      ["container.start", "error"],
      ["container.start", "ok"],
    ]);
    expect(w.mutations()[0]).toMatchObject({ object: "shop-dev-web-0-aaaaaaa", reason: "create web-0" });
    expect(reported.at(-1)).toMatchObject({ target: "local", operation: "container.list", mutating: false, outcome: "error", durationMs: 0 });
    expect(before).toEqual(["network.create", "container.create", "container.start", "container.start", "container.start"]);
  });

  it("applies behaviours by image or predicate, merged in order, with logs and a health log; undo removes one", async () => {
    const w = await world();
    const entry = { start: "2025-01-01T00:00:00Z", exitCode: 1, output: "no answer" };
    w.behave(IMAGE, { logs: "booting\nlistening", health: "unhealthy", healthLog: [entry] });
    const undo = w.behave((c) => c.slot === 1, { health: "healthy" });
    const [a, b] = [await w.createContainer(web(0), "t"), await w.createContainer(web(1), "t")];
    await w.startContainer(a, "t");
    await w.startContainer(b, "t");
    expect([w.health(a), w.health(b)]).toEqual(["unhealthy", "healthy"]);
    expect(await w.logs(a)).toBe("booting\nlistening\n");
    expect(await w.logs(a, 1)).toBe("listening\n");
    expect(await w.healthLogReader(a)).toEqual([entry]);
    undo();
    await w.stopContainer(b, undefined, "t");
    await w.startContainer(b, "t");
    expect(w.health(b)).toBe("unhealthy");
    expect(await w.logs(b)).toBe("booting\nlistening\nbooting\nlistening\n");
  });

  it("scripts drift: a crash, a crash loop, a container deleted behind Berth's back", async () => {
    const w = await world();
    const ids = await Promise.all([0, 1, 2].map((slot) => w.createContainer(web(slot), "t")));
    for (const id of ids) await w.startContainer(id, "t");
    w.crash(ids[0]!, 137);
    w.crash(ids[1]!, 1, { restarting: true });
    w.delete(ids[2]!);
    expect((await observed(w)).map((c) => [c.slot, c.state, c.exitCode])).toEqual([
      [0, "exited", 137],
      [1, "restarting", undefined],
    ]);
    expect(w.health(ids[0]!)).toBeUndefined();
    expect(w.eventLog.filter((e) => e.id === ids[2]).map((e) => e.action).slice(-3)).toEqual(["kill", "die", "destroy"]);
    expect(() => w.crash(ids[0]!)).toThrow(/not running/);
  });

  it("offers sorted, filtered views and deterministic ids across worlds", async () => {
    const [w1, w2] = [await world(), await world()];
    for (const w of [w1, w2]) for (const slot of [2, 0, 1]) await w.createContainer(web(slot), "t");
    await w1.createContainer(web(5, { name: "other-web", Labels: { [LABEL.service]: "api" } }), "t");
    expect(w1.containers({ service: "web", environment: "dev" }).map((c) => [c.slot, c.state])).toEqual([
      [0, "created"],
      [1, "created"],
      [2, "created"],
    ]);
    expect(w1.containers({ service: "web" }).map((c) => c.id)).toEqual(w2.containers().map((c) => c.id));
    expect(w1.containers({ service: "api" })[0]).toMatchObject({ name: "other-web", slot: -1, specHash: "" });
  });

  it("answers ping and version, has no dialer, and uses a clock the test gives it", async () => {
    let now = 5_000;
    const w = fakeWorld({ target: "edge", clock: { now: () => now } });
    expect(w.target).toBe("edge");
    await expect(w.ping()).resolves.toBeDefined();
    await expect(w.version()).resolves.toEqual({ Version: "20.10.0-fake", ApiVersion: "1.41" });
    expect(w.dial).toBeUndefined();
    w.close();
    now = 9_000;
    expect(w.clock.now()).toBe(9_000);
    expect(() => w.clock.advance(1)).toThrow(/given by the test/);
  });
});
