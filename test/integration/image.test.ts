import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildBusyboxImage } from "../../src/docker/busybox-image.ts";
import { DockerDriver } from "../../src/docker/driver.ts";
import { createTestRuntime, eventually, projectContainers, removeProject } from "../support/berth.ts";
import { freePort } from "../support/processes.ts";

const run = promisify(execFile);
const rt = createTestRuntime(inject("dockerHost"));
const env = { ...process.env, DOCKER_HOST: rt.dockerHost };
const TAG = "berth-test/berth:dev";
const NAME = "berth-image-test";
const socket = rt.dockerHost.replace(/^unix:\/\//, "");

describe("the container image", () => {
  beforeAll(async () => {
    await buildBusyboxImage(new DockerDriver("test", rt.docker), "berth-demo/busybox:1", "demo\n");
  });
  afterAll(async () => {
    await rt.docker.getContainer(NAME).remove({ force: true }).catch(() => undefined);
    await removeProject(rt.docker, "demo");
  });

  it("builds with npm run image (from a local base when nothing can be pulled), runs as non-root and converges the example read-only", async () => {
    const built = await run("npm", ["run", "-s", "image", "--", TAG], { env, maxBuffer: 16 * 1024 * 1024 });
    expect(built.stdout).toContain(TAG);
    const image = await rt.docker.getImage(TAG).inspect();
    expect(image.Config.User).toBe("1000:1000");
    expect(image.Config.Healthcheck?.Test?.join(" ")).toContain("/healthz");
    expect(image.Config.Labels?.["org.opencontainers.image.title"]).toBe("berth");
    expect(Object.keys(image.Config.Volumes ?? {})).toContain("/data");

    const port = await freePort();
    const group = String(statSync(socket).gid);
    // The test engine has no bridge: the daemon shares the host's network and listens on loopback.
    await run("docker", ["run", "-d", "--name", NAME, "--network", "host", "--group-add", group, "-e", `BERTH_HEALTH_URL=http://127.0.0.1:${port}/healthz`, "--health-interval", "2s", "--health-start-period", "1s", "-v", `${socket}:/var/run/docker.sock`, "-v", `${resolve("manifests")}:/manifests:ro`, TAG, "run", "/manifests", "--db", "file:/data/berth.db", "--listen", `127.0.0.1:${port}`], { env });

    const containers = await eventually(async () => {
      const running = (await projectContainers(rt.docker, "demo")).filter((c) => c.State === "running");
      return running.length === 4 ? running : undefined;
    }, 120_000, "the example's four containers running, made by the daemon in the image").catch(async (error: Error) => {
      const { stdout, stderr } = await run("docker", ["logs", "--tail", "40", NAME], { env }).catch((e) => ({ stdout: "", stderr: String(e) }));
      throw new Error(`${error.message}; the daemon said:\n${stdout}${stderr}`);
    });
    expect(containers.map((c) => c.Labels["dev.berth.service"]).sort()).toEqual(["api", "api", "store", "web"]);
    const metrics = await eventually(async () => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      return response.ok ? response.text() : undefined;
    }, 30_000, "/metrics");
    expect(metrics).toContain("berth_resource_phase");
    const ready = await eventually(async () => ((await rt.docker.getContainer(NAME).inspect()).State.Health?.Status === "healthy" ? true : undefined), 60_000, "the image's HEALTHCHECK to pass");
    expect(ready).toBe(true);
    const top = await rt.docker.getContainer(NAME).inspect();
    expect(top.Config.User).toBe("1000:1000");
  }, 600_000);
});
