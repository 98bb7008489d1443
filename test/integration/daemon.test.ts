import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import type { Daemon } from "../../src/engine/daemon.ts";
import { createTestRuntime, eventually, projectContainers, removeProject, runDaemon, uniqueProject } from "../support/berth.ts";
import { createManifestDir, type ManifestDir } from "../support/manifest-dir.ts";
import { writeProject } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const projects: string[] = [];
let dir: ManifestDir | undefined;
let daemon: Daemon | undefined;

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  dir?.cleanup();
});
afterAll(async () => {
  for (const p of projects) await removeProject(rt.docker, p);
});

async function startProject(services: Parameters<typeof writeProject>[3]): Promise<string> {
  const project = uniqueProject();
  projects.push(project);
  dir = createManifestDir();
  writeProject(dir, project, rt.dockerHost, services);
  daemon = await runDaemon(dir.dir, rt);
  const settled = await daemon.manager.settle({ timeoutMs: 45_000, ready: true });
  expect(settled.pending).toEqual([]);
  return project;
}

async function containerIds(project: string): Promise<string[]> {
  return (await projectContainers(rt.docker, project)).map((c) => c.Id).sort();
}

describe("berth run", () => {
  it("repairs a container removed behind its back, without any manifest change", async () => {
    const project = await startProject({ web: { replicas: 2 } });
    const [victim] = await projectContainers(rt.docker, project);
    await rt.docker.getContainer(victim!.Id).remove({ force: true });
    // Resync is a minute away: only the engine's destroy event can explain a quick repair.
    const repaired = await eventually(async () => {
      const now = await projectContainers(rt.docker, project);
      const slot = now.find((c) => c.Labels["dev.berth.replica"] === victim!.Labels["dev.berth.replica"]);
      return slot && slot.Id !== victim!.Id && slot.State === "running" ? now : undefined;
    }, 20_000, "the removed replica to be recreated");
    expect(repaired).toHaveLength(2);
  });

  it("does not start a service_healthy dependent before its dependency reports healthy", async () => {
    const project = await startProject({
      db: {
        command: ["sh", "-c", "sleep 3; touch /tmp/ready; exec httpd -f -p 8080 -h /www"],
        healthCheck: "{exec: {command: [test, -f, /tmp/ready]}, interval: 1s, timeout: 1s, retries: 1, startPeriod: 10s}",
      },
      web: { dependsOn: [{ service: "db", condition: "service_healthy" }] },
    });
    const containers = await projectContainers(rt.docker, project);
    const inspect = (service: string) => rt.docker.getContainer(containers.find((c) => c.Labels["dev.berth.service"] === service)!.Id).inspect();
    const [db, web] = await Promise.all([inspect("db"), inspect("web")]);
    expect(db.State.Health?.Status).toBe("healthy");
    // db cannot pass its check before it touched /tmp/ready, 3 s after it started.
    expect(Date.parse(web.Created) - Date.parse(db.State.StartedAt)).toBeGreaterThanOrEqual(3_000);
  });

  it("adopts existing containers after a restart: nothing is recreated", async () => {
    const project = await startProject({ web: { replicas: 2 }, worker: { command: ["sleep", "3600"] } });
    const before = await containerIds(project);
    await daemon!.stop();
    const mark = rt.calls.length;
    daemon = await runDaemon(dir!.dir, rt);
    const settled = await daemon.manager.settle({ timeoutMs: 30_000, ready: true });
    expect(settled.pending).toEqual([]);
    expect(await containerIds(project)).toEqual(before);
    expect(rt.mutations(mark)).toEqual([]);
  });

  it("changes nothing in Docker on an invalid manifest edit, and logs the error", async () => {
    const project = await startProject({ web: {} });
    const before = await containerIds(project);
    const mark = rt.calls.length;
    const logMark = rt.logs.length;
    dir!.write("svc-web.yaml", `apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  project: ${project}\n  image: [broken\n`);
    const logged = await eventually(async () => rt.logs.slice(logMark).find((l) => l.includes("manifest error")), 10_000, "the manifest error to be logged");
    expect(logged).toContain("svc-web.yaml:");
    await daemon!.manager.resync();
    const settled = await daemon!.manager.settle({ timeoutMs: 30_000, ready: true });
    expect(settled.pending).toEqual([]);
    expect(await containerIds(project)).toEqual(before);
    expect(rt.mutations(mark)).toEqual([]);
  });
});

describe("berth run as a process", () => {
  it("stops cleanly on SIGTERM: exit 0, nothing half-made", async () => {
    const { spawn } = await import("node:child_process");
    const project = uniqueProject();
    projects.push(project);
    dir = createManifestDir();
    writeProject(dir, project, rt.dockerHost, { web: { replicas: 3 } });
    const child = spawn(process.execPath, ["bin/berth.js", "run", dir.dir, "--log-format", "json"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    // Stop while containers are still being created.
    await eventually(async () => (stderr.includes('"msg":"container created"') ? true : undefined), 30_000, "the first container");
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const lines = stderr.trim().split("\n").map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toContain("stopping");
    expect(lines.at(-1)!.msg).toBe("berth stopped");
    const containers = await projectContainers(rt.docker, project);
    expect(containers.length).toBeGreaterThan(0);
    expect(containers.every((c) => c.State === "running")).toBe(true);
  });
});
