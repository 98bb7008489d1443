import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { controllers, targets } from "../../../controllers/index.ts";
import { startDaemon, type Daemon } from "../../../src/engine/daemon.ts";
import { createLogger, Redactor } from "../../../src/log/logger.ts";
import type { ManifestError } from "../../../src/manifests/errors.ts";
import { ManifestLoader, loadManifests, type DesiredState } from "../../../src/manifests/load.ts";
import type { Service } from "../../../src/manifests/types.ts";
import { watchManifests, type ManifestWatcher } from "../../../src/manifests/watch.ts";
import { openStore, type Store } from "../../../src/store/index.ts";
import { cliRunner } from "../../support/cli.ts";
import { fakeWorld } from "../../support/fake-world.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

/**
 * YAML aliases that cannot be read (issue 13, item 4): an alias bomb (nested
 * aliases that expand exponentially) and an alias to an anchor that is not
 * defined. Each is a located error of its own file; the rest of the directory
 * loads, `validate -o json` stays JSON, the watcher and the daemon carry on.
 */

/** A billion-laughs Service: nine levels of nine aliases each, 9^9 strings once expanded. */
function aliasBomb(name = "bomb"): string {
  const levels = "abcdefghi".split("");
  const lines = levels.map((level, i) => {
    const items = i === 0 ? Array(9).fill('"lol"') : Array(9).fill(`*${levels[i - 1]}`);
    return `  ${level}: &${level} [${items.join(", ")}]`;
  });
  return doc("Service", name, `project: shop\nimage: ${name}:1\nlabels:\n${lines.join("\n")}`);
}

/** web.yaml with its image taken from an anchor that is never defined. */
const undefinedAlias = doc("Service", "web", "project: shop\nimage: *nope");

const base = () => ({ "base.yaml": baseProject()["base.yaml"]! });
const file = (e: { file: string }) => e.file.split("/").pop();
const located = (e: ManifestError) => `${file(e)}:${e.line}:${e.col}`;
const serviceImage = (state: DesiredState, name: string) =>
  (state.resources.find((r) => r.kind === "Service" && r.metadata.name === name) as Service | undefined)?.spec.image;
const names = (state: DesiredState) => state.resources.map((r) => `${r.kind}/${r.metadata.name}`);

/** The text written at line:col (1-based) of a file. */
function textAt(path: string, line: number, col: number): string {
  return readFileSync(path, "utf8").split("\n")[line - 1]!.slice(col - 1);
}

let current: ManifestDir | undefined;
afterEach(() => current?.cleanup());

describe("YAML alias errors in the loader", () => {
  it("reports an alias bomb as a located error of its file only; the other files load", async () => {
    current = createManifestDir({ ...baseProject(), "bomb.yaml": aliasBomb() });
    const state = await loadManifests(current.dir);
    expect(state.complete).toBe(false);
    expect(state.errors).toHaveLength(1);
    const [error] = state.errors;
    expect(file(error!)).toBe("bomb.yaml");
    expect(error!.resource).toBe("Service/bomb");
    expect(error!.problem).toMatch(/alias \*[a-i] .*more than 100/);
    expect(error!.expected).toBeTruthy();
    expect(error!.example).toBeTruthy();
    // It points at the alias in the text that went over the limit.
    expect(textAt(`${current.dir}/bomb.yaml`, error!.line, error!.col)).toMatch(/^\*[a-i]\b/);
    expect(error!.message).toMatch(/bomb\.yaml:\d+:\d+: Service\/bomb: /);
    expect(names(state)).toEqual(["DeploymentTarget/local", "Project/shop", "Environment/dev", "Service/web"]);
    expect(state.files.find((f) => f.file.endsWith("bomb.yaml"))).toMatchObject({ state: "invalid", resources: 0 });
    expect(state.files.find((f) => f.file.endsWith("web.yaml"))).toMatchObject({ state: "valid", resources: 1 });
  });

  it("reports an undefined alias where it is written, with an example of an anchor", async () => {
    current = createManifestDir({ ...base(), "web.yaml": undefinedAlias });
    const state = await loadManifests(current.dir);
    expect(state.errors.map(located)).toEqual(["web.yaml:7:10"]);
    const [error] = state.errors;
    expect(error!.resource).toBe("Service/web");
    expect(error!.problem).toContain("*nope");
    expect(error!.example).toContain("&nope");
    expect(state.complete).toBe(false);
    expect(names(state)).toEqual(["DeploymentTarget/local", "Project/shop", "Environment/dev"]);
  });

  it("holds a file broken by an alias at its last valid version", async () => {
    current = createManifestDir(baseProject());
    const loader = new ManifestLoader(current.dir);
    expect((await loader.load()).complete).toBe(true);

    current.write("web.yaml", undefinedAlias);
    const broken = await loader.load();
    expect(broken.errors.map(located)).toEqual(["web.yaml:7:10"]);
    expect(broken.files.find((f) => f.file.endsWith("web.yaml"))).toMatchObject({ state: "stale", resources: 1 });
    expect(serviceImage(broken, "web")).toBe("web:1");

    current.write("web.yaml", aliasBomb("web"));
    const bombed = await loader.load();
    expect(bombed.errors.map(file)).toEqual(["web.yaml"]);
    expect(serviceImage(bombed, "web")).toBe("web:1");

    current.write("web.yaml", doc("Service", "web", "project: shop\nimage: web:2"));
    const fixed = await loader.load();
    expect(fixed.complete).toBe(true);
    expect(serviceImage(fixed, "web")).toBe("web:2");
  });

  it("does not report resources that refer to a document broken by an alias as missing", async () => {
    current = createManifestDir({
      ...base(),
      "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nlabels: {tier: *nope}"),
      "api.yaml": doc("Service", "api", "project: shop\nimage: api:1\ndependsOn:\n  - service: web"),
    });
    const state = await loadManifests(current.dir);
    expect(state.errors.map(located)).toEqual(["web.yaml:8:18"]);
  });

  it("reports only the broken document of a multi-document file, and keeps reading aliases that are fine", async () => {
    current = createManifestDir({
      ...base(),
      "services.yaml": [
        doc("Service", "web", "project: shop\nimage: &img web:1"),
        doc("Service", "api", "project: shop\nimage: *img"),
        doc("Service", "db", "project: shop\nimage: &db db:1\nlabels: {image: *db}"),
      ].join("---\n"),
    });
    const state = await loadManifests(current.dir);
    // An anchor belongs to its document: *img in the second document is undefined there.
    expect(state.errors.map((e) => `${located(e)} ${e.resource}`)).toEqual(["services.yaml:15:10 Service/api"]);
    expect(serviceImage(state, "web")).toBe("web:1");
    expect(serviceImage(state, "db")).toBe("db:1");
    expect((state.resources.find((r) => r.metadata.name === "db") as Service).spec.labels).toEqual({ image: "db:1" });
  });

  it("reports an alias to the mapping that contains it where it is written (no schema allows a value without end)", async () => {
    current = createManifestDir({ ...base(), "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nlabels: &l {self: *l}") });
    const state = await loadManifests(current.dir);
    expect(state.errors.map(located)).toEqual(["web.yaml:8:21"]);
    expect(state.errors[0]!.problem).toBe('"self" is a mapping');
  });
});

describe("berth validate with YAML alias errors", () => {
  const berth = cliRunner({});

  it("prints valid JSON and exits 1 for an alias bomb and an undefined alias", async () => {
    current = createManifestDir({ ...base(), "bomb.yaml": aliasBomb(), "web.yaml": undefinedAlias });
    const { code, stdout } = await berth("validate", current.dir, "-o", "json");
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.valid).toBe(false);
    expect(report.errors.map((e: { file: string; line: number; col: number }) => `${file(e)}:${e.line}:${e.col}`)).toEqual([
      expect.stringMatching(/^bomb\.yaml:\d+:\d+$/),
      "web.yaml:7:10",
    ]);
    expect(report.errors[1]).toMatchObject({ resource: "Service/web", expected: expect.any(String), example: expect.stringContaining("&nope") });
    expect(report.resources.map((r: { kind: string; name: string }) => `${r.kind}/${r.name}`)).toEqual(["DeploymentTarget/local", "Project/shop", "Environment/dev"]);
  });

  it("prints valid JSON and exits 1 when the directory cannot be read at all", async () => {
    const { code, stdout } = await berth("validate", "/nonexistent/berth-manifests", "-o", "json");
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ valid: false, dir: "/nonexistent/berth-manifests", resources: [], files: [] });
    expect(report.errors).toEqual([expect.objectContaining({ problem: expect.stringContaining("cannot read the manifests directory: ENOENT") })]);
  });

  it("shows file:line:col in text form and ends with the located error for an alias bomb", async () => {
    current = createManifestDir({ ...baseProject(), "bomb.yaml": aliasBomb() });
    const { code, stdout } = await berth("validate", current.dir);
    expect(code).toBe(1);
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/bomb\.yaml:\d+:\d+: Service\/bomb: YAML alias \*[a-i] /);
    expect(lines[1]).toMatch(/: 1 problem in 3 files$/);
  });
});

describe("watching through YAML alias errors", () => {
  let watcher: ManifestWatcher | undefined;
  afterEach(async () => {
    await watcher?.close();
    watcher = undefined;
  });

  async function startWatching(files: Record<string, string>) {
    current = createManifestDir(files);
    const waiters: ((s: DesiredState) => void)[] = [];
    const failures: Error[] = [];
    watcher = await watchManifests(current.dir, {
      debounceMs: 50,
      onChange: (state) => waiters.shift()?.(state),
      onError: (error) => failures.push(error),
    });
    const next = () => new Promise<DesiredState>((resolve) => waiters.push(resolve));
    return { dir: current, next, failures };
  }

  it("starts with a broken file present and picks up its fix", async () => {
    const { dir, next, failures } = await startWatching({ ...baseProject(), "bomb.yaml": aliasBomb() });
    expect(watcher!.current.errors.map(file)).toEqual(["bomb.yaml"]);
    expect(serviceImage(watcher!.current, "web")).toBe("web:1");

    const change = next();
    dir.write("bomb.yaml", doc("Service", "bomb", "project: shop\nimage: bomb:1"));
    const fixed = await change;
    expect(fixed.complete).toBe(true);
    expect(serviceImage(fixed, "bomb")).toBe("bomb:1");
    expect(failures).toEqual([]);
  });

  it("keeps following edits after an edit introduces an undefined alias", async () => {
    const { dir, next, failures } = await startWatching(baseProject());
    let change = next();
    dir.write("web.yaml", undefinedAlias);
    const broken = await change;
    expect(broken.errors.map(located)).toEqual(["web.yaml:7:10"]);
    expect(serviceImage(broken, "web")).toBe("web:1");

    change = next();
    dir.write("web.yaml", doc("Service", "web", "project: shop\nimage: web:2"));
    const fixed = await change;
    expect(fixed.complete).toBe(true);
    expect(serviceImage(fixed, "web")).toBe("web:2");
    expect(failures).toEqual([]);
  });
});

describe("the daemon with a YAML alias error present", () => {
  let daemon: Daemon | undefined;
  let store: Store | undefined;
  afterEach(async () => {
    await daemon?.stop();
    store?.close();
    daemon = undefined;
  });

  it("starts, with nothing from the broken file in force", async () => {
    current = createManifestDir({ ...base(), "bomb.yaml": aliasBomb(), "web.yaml": undefinedAlias });
    store = await openStore("file::memory:");
    const logs: Record<string, unknown>[] = [];
    const redactor = new Redactor();
    const log = createLogger({ level: "info", format: "json", write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>), redactor });
    const world = fakeWorld();
    daemon = await startDaemon({ dir: current.dir, log, redactor, connect: () => world, controllers, targets, store, watchEvents: false, debounceMs: 50, resyncMs: 60_000 });
    expect(daemon.watcher.current.complete).toBe(false);
    expect(daemon.watcher.current.errors.map(file)).toEqual(["bomb.yaml", "web.yaml"]);
    expect(names(daemon.watcher.current)).toEqual(["DeploymentTarget/local", "Project/shop", "Environment/dev"]);
    expect(logs.filter((l) => l.msg === "manifest error")).toHaveLength(2);
  });
});
