import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildDesiredModel } from "../../../src/desired/model.ts";
import { Redactor, silentLogger } from "../../../src/log/logger.ts";
import { ManifestLoader } from "../../../src/manifests/load.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { Recorder } from "../../../src/record/recorder.ts";
import { openStore } from "../../../src/store/index.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";
import { cliRunner } from "../../support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "berth-cli-status-"));
const db = `file:${dir}/berth.db`;
const run = cliRunner({});
const berth = (...args: string[]) => run(...args, "--db", db);

const services = (web: string) => [doc("Service", "api", "project: shop\nimage: api:1"), doc("Service", "web", `project: shop\nimage: web:1${web}`)].join("---\n");

let manifests: ManifestDir;
let loader: ManifestLoader;

/** Loads the directory and records it as `berth run` or `berth apply` would. */
async function recordLoad(): Promise<void> {
  const store = await openStore(db);
  try {
    const recorder = new Recorder({ store, metrics: new Metrics({ processMetrics: false }), redactor: new Redactor(), log: silentLogger });
    const state = await loader.load();
    recorder.desiredChanged(state, buildDesiredModel(state));
    await recorder.flush();
  } finally {
    store.close();
  }
}

beforeAll(() => {
  manifests = createManifestDir({ ...baseProject(), "web.yaml": services("") });
  loader = new ManifestLoader(manifests.dir);
});
afterAll(() => {
  manifests.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("berth status: manifests", () => {
  it("says briefly that every file is valid", async () => {
    await recordLoad();
    const table = await berth("status");
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("Manifests: all 2 files valid\n");
    expect(JSON.parse((await berth("status", "-o", "json")).stdout).manifests).toEqual({ ok: true, valid: 2, files: [] });
  });

  it("lists a broken file at file:line:col with its message and the resources held at last good, in every format", async () => {
    await recordLoad();
    manifests.write("web.yaml", services("\nreplicas: lots"));
    await recordLoad();
    const web = join(manifests.dir, "web.yaml");

    const table = await berth("status");
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^KIND\s+NAME/);
    expect(table.stdout).toContain("Manifests: 1 of 2 files broken");
    expect(table.stdout).toContain(`${web}:16:13: Service/web: "replicas" is lots; expected a whole number, e.g. 2\n  held at last good: Service/api, Service/web (first reported`);

    const json = JSON.parse((await berth("status", "-o", "json")).stdout);
    expect(json.manifests).toEqual({
      ok: false,
      valid: 1,
      files: [{ file: web, state: "stale", errors: [{ line: 16, col: 13, message: 'Service/web: "replicas" is lots; expected a whole number, e.g. 2' }], resources: ["Service/api", "Service/web"], updatedAt: expect.any(Number) }],
    });
    expect(json.items.map((i: { key: string }) => i.key)).toContain("Service/dev/web");
    expect(parse((await berth("status", "-o", "yaml")).stdout).manifests).toEqual(json.manifests);
  });

  it("drops the file from the list once it is fixed", async () => {
    manifests.write("web.yaml", services("\nreplicas: 2"));
    await recordLoad();
    const table = await berth("status");
    expect(table.stdout).toContain("Manifests: all 2 files valid\n");
    expect(table.stdout).not.toContain("held at last good");
    expect(JSON.parse((await berth("status", "-o", "json")).stdout).manifests).toMatchObject({ ok: true, files: [] });
  });
});
