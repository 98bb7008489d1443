import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { buildBusyboxImage } from "../../src/docker/busybox-image.ts";
import { DockerDriver } from "../../src/docker/driver.ts";
import { applyOnce, createTestRuntime, projectContainers, removeProject } from "../support/berth.ts";

const rt = createTestRuntime(inject("dockerHost"));

/** Runs the CLI in-process against the test engine. */
async function berth(...args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(["node", "berth", ...args], { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { DOCKER_HOST: rt.dockerHost } });
  return { code, stdout, stderr };
}

describe("the example project", () => {
  beforeAll(async () => {
    // What `npm run demo:images` does on the operator's engine.
    await buildBusyboxImage(new DockerDriver("test", rt.docker), "berth-demo/busybox:1", "demo\n");
  });
  afterAll(() => removeProject(rt.docker, "demo"));

  it("comes up with `berth apply --wait`, then `plan --detailed-exitcode` exits 0 and a second apply makes no mutating call", async () => {
    const applied = await berth("apply", "manifests", "--wait", "--timeout", "2m");
    expect(applied.stderr + applied.stdout).toContain("Environment       development        Healthy");
    expect(applied.code).toBe(0);

    const containers = await projectContainers(rt.docker, "demo");
    expect(containers.map((c) => c.Labels["dev.berth.service"]).sort()).toEqual(["api", "api", "store", "web"]);
    expect(containers.every((c) => c.State === "running")).toBe(true);
    const page = await (await fetch("http://127.0.0.1:8088/")).text();
    expect(page).toContain("Served by a container Berth converged.");

    const plan = await berth("plan", "manifests", "--detailed-exitcode");
    expect(plan.stdout).toContain("No changes: Docker matches the manifests.");
    expect(plan.code).toBe(0);

    const again = await applyOnce("manifests", rt, { wait: true });
    expect(again.ok).toBe(true);
    expect(rt.mutations()).toEqual([]);
    expect(rt.calls.length).toBeGreaterThan(0);
  });
});
