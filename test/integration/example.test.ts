import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { buildBusyboxImage } from "../../src/docker/busybox-image.ts";
import { DockerDriver } from "../../src/docker/driver.ts";
import { applyOnce, createTestRuntime, projectContainers, removeProject } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";

const rt = createTestRuntime(inject("dockerHost"));
const dbDir = mkdtempSync(join(tmpdir(), "berth-db-"));
const db = `file:${dbDir}/berth.db`;

const berth = cliRunner({ DOCKER_HOST: rt.dockerHost });

describe("the example project", () => {
  beforeAll(async () => {
    // What `npm run demo:images` does on the operator's engine.
    await buildBusyboxImage(new DockerDriver("test", rt.docker), "berth-demo/busybox:1", "demo\n");
  });
  afterAll(async () => {
    await removeProject(rt.docker, "demo");
    rmSync(dbDir, { recursive: true, force: true });
  });

  it("comes up with `berth apply --wait`, then `plan --detailed-exitcode` exits 0 and a second apply makes no mutating call", async () => {
    const applied = await berth("apply", "manifests", "--wait", "--timeout", "2m", "--db", db);
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

  it("left its observations in the store, and `berth status -o json` shows them", async () => {
    const store = await openStore(db);
    try {
      const resources = await store.resources.list();
      expect(resources.map((r) => `${r.kind}/${r.name}=${r.phase}`).sort()).toEqual([
        "DeploymentTarget/local=Active",
        "Environment/development=Healthy",
        // Production is suspended in the example: declared, compared by diff-env, never run here.
        "Environment/production=Stopped",
        "Project/demo=Ready",
        "Service/development/api=Running",
        "Service/development/store=Running",
        "Service/development/web=Running",
        "Service/production/api=Stopped",
        "Service/production/store=Stopped",
        "Service/production/web=Stopped",
      ]);
      for (const r of resources) {
        expect(JSON.parse(r.conditions)).toEqual([expect.objectContaining({ type: "Ready", status: "True", lastTransitionTime: expect.any(String) })]);
        if (r.kind === "Service") expect(r.observedGeneration).toBe(r.generation);
      }
      const events = await store.events.list({ limit: 500 });
      expect(events.filter((e) => e.reason === "ContainerCreated")).toHaveLength(4);
      const deployments = await store.deployments.list();
      expect(deployments.map((d) => `${d.service}=${d.status}`).sort()).toEqual(["Service/development/api=success", "Service/development/store=success", "Service/development/web=success"]);
      for (const service of ["Service/development/api", "Service/development/web", "Service/development/store"]) {
        const health = await store.health.list({ service });
        expect(health.length, service).toBeGreaterThan(0);
        expect(health[0]!.status, service).toBe("healthy");
      }
      const audit = await store.audit.list({ limit: 500 });
      const created = audit.filter((a) => a.operation === "container.create");
      expect(created).toHaveLength(4);
      expect(created.every((a) => a.outcome === "ok" && a.reason?.includes("create (new revision)"))).toBe(true);
    } finally {
      store.close();
    }
    const status = await berth("status", "-o", "json", "--db", db);
    expect(status.code).toBe(0);
    const items = JSON.parse(status.stdout).items as { key: string; phase: string; conditions: unknown[] }[];
    expect(items.find((i) => i.key === "Service/development/api")).toMatchObject({ phase: "Running", conditions: [expect.objectContaining({ type: "Ready" })] });
  });
});
