import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, inject, it } from "vitest";
import { connectDocker } from "../../src/docker/connection.ts";
import { TEST_PAGE } from "./global-setup.ts";

const docker = connectDocker(inject("dockerHost"));
const name = `berth-harness-${randomBytes(4).toString("hex")}`;

async function fetchWithRetry(url: string, deadline: number): Promise<string> {
  for (;;) {
    try {
      const response = await fetch(url);
      return await response.text();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("test engine", () => {
  afterAll(async () => {
    await docker.getContainer(name).remove({ force: true }).catch(() => {});
    await docker.getNetwork(name).remove().catch(() => {});
  });

  it("speaks Engine API 1.41 or newer", async () => {
    const version = await docker.version();
    const [major, minor] = version.ApiVersion.split(".").map(Number);
    expect(major! * 1000 + minor!).toBeGreaterThanOrEqual(1041);
  });

  it("runs a container from the locally built image and it answers HTTP on a published port", async () => {
    // The private engine has no default bridge: like Berth, the test brings its own network.
    await docker.createNetwork({ Name: name, Driver: "bridge" });
    const container = await docker.createContainer({
      name,
      Image: inject("testImage"),
      Cmd: ["httpd", "-f", "-p", "8080", "-h", "/www"],
      ExposedPorts: { "8080/tcp": {} },
      HostConfig: { NetworkMode: name, PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
    });
    await container.start();
    const info = await container.inspect();
    expect(info.State.Running).toBe(true);
    const port = info.NetworkSettings.Ports["8080/tcp"]?.[0]?.HostPort;
    expect(port).toMatch(/^\d+$/);
    expect(await fetchWithRetry(`http://127.0.0.1:${port}/`, Date.now() + 10_000)).toBe(TEST_PAGE);
  });
});

describe("image builds through the driver", () => {
  it("fail, without taking the process down, when a context file vanishes before it is sent; symlinks are sent as symlinks", async () => {
    const { mkdtempSync, rmSync, writeFileSync, symlinkSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { DockerDriver } = await import("../../src/docker/driver.ts");
    const dir = mkdtempSync(join(tmpdir(), "berth-build-"));
    const tag = `berth-test/vanish:${randomBytes(3).toString("hex")}`;
    try {
      writeFileSync(join(dir, "Dockerfile"), "FROM berth-test/busybox:1\nCOPY . /ctx/\nRUN test -L /ctx/link\n");
      symlinkSync("/etc/hostname", join(dir, "link"));
      const driver = new DockerDriver("test", docker);
      // A file the model listed, gone by the time the build packs it.
      await expect(driver.buildImage({ context: dir, src: ["Dockerfile", "link", "vanished.txt"] }, { t: tag }, "test")).rejects.toThrow(/changed while it was sent/);
      // The same context as it is now builds, with the link kept as a link (the RUN step checks it).
      await driver.buildImage({ context: dir, src: ["Dockerfile", "link"] }, { t: tag }, "test");
      expect((await docker.getImage(tag).inspect()).RepoTags).toContain(tag);
    } finally {
      await docker.getImage(tag).remove().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
