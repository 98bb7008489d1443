import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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

  it("migrates to v1beta1 with only the changed values rewritten, and the result validates and plans no changes", async () => {
    const copy = join(dbDir, "manifests");
    cpSync("manifests", copy, { recursive: true });
    const check = await berth("migrate", copy, "--check");
    expect(check.code).toBe(2);
    expect(check.stdout).toContain("would migrate");
    const migrated = await berth("migrate", copy);
    expect(migrated.code).toBe(0);
    // Every line is as it was, comments included, but for the apiVersion and the renamed values.
    for (const file of ["development.yaml", "services/api.yaml", "services/web.yaml"]) {
      const before = readFileSync(join("manifests", file), "utf8").split("\n");
      const after = readFileSync(join(copy, file), "utf8").split("\n");
      expect(after).toHaveLength(before.length);
      const changed = after.map((line, i) => [before[i], line]).filter(([a, b]) => a !== b);
      for (const [was, is] of changed) expect(`${was} -> ${is}`).toMatch(/^(apiVersion: berth\.dev\/v1alpha1 -> apiVersion: berth\.dev\/v1beta1|\s+tier: development -> \s+tier: Development|\s+condition: service_healthy -> \s+condition: Healthy|\s+strategy: rolling -> \s+strategy: Rolling)$/);
      expect(before.filter((l) => l.trimStart().startsWith("#"))).toEqual(after.filter((l) => l.trimStart().startsWith("#")));
    }
    expect((await berth("migrate", copy, "--check")).code).toBe(0);
    const validated = await berth("validate", copy);
    expect(validated.stdout).toMatch(/valid \(7 files/);
    expect(validated.stderr).toBe("");
    expect((await berth("validate", "manifests")).stderr).toContain("7 files use apiVersion berth.dev/v1alpha1, which is deprecated");
    const plan = await berth("plan", copy, "--detailed-exitcode", "--db", db);
    expect(plan.stdout).toContain("No changes: Docker matches the manifests.");
    expect(plan.code).toBe(0);
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
