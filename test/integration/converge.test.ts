import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { applyOnce, createTestRuntime, projectContainers, removeProject, uniqueProject } from "../support/berth.ts";
import { createManifestDir, type ManifestDir } from "../support/manifest-dir.ts";
import { writeProject, writeService } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const projects: string[] = [];
let dir: ManifestDir;

async function ids(project: string): Promise<Record<string, string[]>> {
  const byService: Record<string, string[]> = {};
  for (const c of await projectContainers(rt.docker, project)) (byService[c.Labels["dev.berth.service"]!] ??= []).push(c.Id);
  for (const list of Object.values(byService)) list.sort();
  return byService;
}

async function applied(): Promise<void> {
  const mark = rt.logs.length;
  const result = await applyOnce(dir.dir, rt, { wait: true, timeoutMs: 20_000 });
  if (!result.ok) console.error(rt.logs.slice(mark).join("\n"));
  expect(result.pending).toEqual([]);
  expect(result.ok).toBe(true);
}

beforeAll(async () => {
  // A second tag of the test image, so a test can change a service's image.
  await rt.docker.getImage("berth-test/busybox:1").tag({ repo: "berth-test/busybox", tag: "2" });
});
afterEach(() => dir?.cleanup());
afterAll(async () => {
  for (const p of projects) await removeProject(rt.docker, p);
});

function newProject(): string {
  const project = uniqueProject();
  projects.push(project);
  dir = createManifestDir();
  return project;
}

describe("convergence", () => {
  it("recreates exactly the containers of a service whose env or image changed, and nothing for a label elsewhere", async () => {
    const project = newProject();
    writeProject(dir, project, rt.dockerHost, { a: { replicas: 2, env: { MODE: "one" } }, b: {} });
    await applied();
    const before = await ids(project);
    expect(before.a).toHaveLength(2);
    expect(before.b).toHaveLength(1);

    writeService(dir, project, "a", { replicas: 2, env: { MODE: "two" } });
    await applied();
    const afterEnv = await ids(project);
    expect(afterEnv.b).toEqual(before.b);
    expect(afterEnv.a).toHaveLength(2);
    expect(afterEnv.a!.filter((id) => before.a!.includes(id))).toEqual([]);

    writeService(dir, project, "b", { image: "berth-test/busybox:2" });
    await applied();
    const afterImage = await ids(project);
    expect(afterImage.a).toEqual(afterEnv.a);
    expect(afterImage.b).toHaveLength(1);
    expect(afterImage.b).not.toEqual(before.b);

    const mark = rt.calls.length;
    writeProject(dir, project, rt.dockerHost, { a: { replicas: 2, env: { MODE: "two" } }, b: { image: "berth-test/busybox:2" } }, { targetLabels: "{rack: r7}" });
    await applied();
    expect(await ids(project)).toEqual(afterImage);
    expect(rt.mutations(mark)).toEqual([]);
  });

  it("removes a dropped service's containers but keeps its volume and data; a dropped environment takes its containers and network, not its volumes", async () => {
    const project = newProject();
    const db = { command: ["sh", "-c", "echo kept > /data/marker; exec httpd -f -p 8080 -h /www"], volumes: "[{type: volume, source: data, target: /data}]" };
    writeProject(dir, project, rt.dockerHost, { web: {}, db });
    await applied();
    const volume = `${project}-${project}-dev-data`;
    expect((await ids(project)).db).toHaveLength(1);

    dir.remove("svc-db.yaml");
    await applied();
    expect((await ids(project)).db).toBeUndefined();
    expect((await rt.docker.getVolume(volume).inspect()).Name).toBe(volume);

    writeService(dir, project, "db", { command: ["sh", "-c", "cat /data/marker > /www/index.html; exec httpd -f -p 8080 -h /www"], volumes: db.volumes });
    await applied();
    const [dbContainer] = (await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "db");
    const exec = await rt.docker.getContainer(dbContainer!.Id).exec({ Cmd: ["cat", "/data/marker"], AttachStdout: true });
    const stream = await exec.start({});
    const output = await new Promise<string>((resolve) => {
      let text = "";
      stream.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      stream.on("end", () => resolve(text));
    });
    expect(output).toContain("kept");

    const staging = `${project}-staging`;
    dir.write("env-staging.yaml", `apiVersion: berth.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: ${staging}\nspec:\n  project: ${project}\n  target: ${project}-engine\n`);
    await applied();
    const inStaging = { label: [`dev.berth.environment=${staging}`] };
    expect(await rt.docker.listContainers({ all: true, filters: inStaging })).toHaveLength(2);
    const inDev = { label: [`dev.berth.environment=${project}-dev`] };
    const devContainers = (await rt.docker.listContainers({ all: true, filters: inDev })).map((c) => c.Id).sort();

    dir.remove("env-staging.yaml");
    await applied();
    expect(await rt.docker.listContainers({ all: true, filters: inStaging })).toEqual([]);
    expect(await rt.docker.listNetworks({ filters: inStaging })).toEqual([]);
    expect((await rt.docker.getVolume(`${project}-${staging}-data`).inspect()).Name).toBe(`${project}-${staging}-data`);
    expect((await rt.docker.listContainers({ all: true, filters: inDev })).map((c) => c.Id).sort()).toEqual(devContainers);
  });
});
