import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { ManifestLoader, loadManifests } from "../../../src/manifests/load.ts";
import type { Service } from "../../../src/manifests/types.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

let current: ManifestDir | undefined;
afterEach(() => current?.cleanup());

const names = (resources: { kind: string; metadata: { name: string } }[]) => resources.map((r) => `${r.kind}/${r.metadata.name}`);

describe("manifest loader", () => {
  it("reads multi-document files in nested folders and orders resources by kind", async () => {
    current = createManifestDir({ ...baseProject(), "nested/deeper/api.yaml": `---\n${doc("Service", "api", "project: shop\nimage: api:1")}---\n` });
    const state = await loadManifests(current.dir);
    expect(state.errors).toEqual([]);
    expect(state.complete).toBe(true);
    expect(names(state.resources)).toEqual(["DeploymentTarget/local", "Project/shop", "Environment/dev", "Service/api", "Service/web"]);
    expect(state.resources.find((r) => r.metadata.name === "api")!.source).toMatchObject({ line: 2, col: 1 });
  });

  it("ignores dotfiles, dot directories, editor temp files and non-YAML files", async () => {
    const broken = "this: [is not valid";
    current = createManifestDir({
      ...baseProject(),
      ".hidden.yaml": broken,
      ".git/config.yaml": broken,
      "web.yaml~": broken,
      "#web.yaml#": broken,
      ".#web.yaml": broken,
      "web.yaml.swp": broken,
      "notes.txt": broken,
      "node_modules/pkg/x.yml": broken,
    });
    const state = await loadManifests(current.dir);
    expect(state.errors).toEqual([]);
    expect(state.files.map((f) => f.file.split(`${current!.dir}/`).join("")).sort()).toEqual(["base.yaml", "web.yaml"]);
  });

  it("reports every problem of a run, not only the first", async () => {
    current = createManifestDir({
      ...baseProject(),
      "bad.yaml": [doc("Service", "a", "project: shop\nimage: a:1\nreplicas: -1"), doc("Service", "b", "project: nope\nimage: b:1")].join("---\n"),
      "worse.yaml": "kind: [",
    });
    const state = await loadManifests(current.dir);
    expect(state.errors.map((e) => `${e.file.split("/").pop()}:${e.line}`)).toEqual(["bad.yaml:8", "bad.yaml:15", "worse.yaml:1"]);
  });

  it("keeps the last valid version of a file in force while it is broken", async () => {
    current = createManifestDir(baseProject());
    const loader = new ManifestLoader(current.dir);
    await loader.load();
    current.write("web.yaml", doc("Service", "web", "project: shop\nimage: web:1\nreplicas: lots"));
    const broken = await loader.load();
    expect(broken.complete).toBe(false);
    expect(broken.errors).toHaveLength(1);
    expect(broken.files.find((f) => f.file.endsWith("web.yaml"))).toMatchObject({ state: "stale", resources: 1 });
    expect((broken.resources.find((r) => r.metadata.name === "web") as Service).spec.image).toBe("web:1");

    current.write("web.yaml", doc("Service", "web", "project: shop\nimage: web:2"));
    const fixed = await loader.load();
    expect(fixed.complete).toBe(true);
    expect((fixed.resources.find((r) => r.metadata.name === "web") as Service).spec.image).toBe("web:2");
  });

  it("falls back to the last valid version when an edit breaks a cross-resource rule", async () => {
    current = createManifestDir(baseProject());
    const loader = new ManifestLoader(current.dir);
    await loader.load();
    current.write("web.yaml", doc("Service", "web", "project: shop\nimage: web:3\ndependsOn:\n  - service: ghost"));
    const state = await loader.load();
    expect(state.errors.map((e) => e.problem)).toEqual(["Service/ghost does not exist in Project/shop"]);
    expect((state.resources.find((r) => r.metadata.name === "web") as Service).spec.image).toBe("web:1");
  });

  it("removes resources only when their file or document is deleted", async () => {
    current = createManifestDir({ ...baseProject(), "api.yaml": doc("Service", "api", "project: shop\nimage: api:1") });
    const loader = new ManifestLoader(current.dir);
    expect(names((await loader.load()).resources)).toContain("Service/api");
    current.remove("api.yaml");
    const state = await loader.load();
    expect(state.complete).toBe(true);
    expect(names(state.resources)).not.toContain("Service/api");
  });

  it("hashes content: same files, same hash; any edit, a new hash", async () => {
    current = createManifestDir(baseProject());
    const first = await loadManifests(current.dir);
    expect((await loadManifests(current.dir)).contentHash).toBe(first.contentHash);
    current.write("web.yaml", doc("Service", "web", "project: shop\nimage: web:1\n# a comment"));
    expect((await loadManifests(current.dir)).contentHash).not.toBe(first.contentHash);
  });

  it("records the git commit of the directory and whether it has uncommitted edits", async () => {
    current = createManifestDir(baseProject());
    const git = (...args: string[]) => execFileSync("git", ["-C", current!.dir, ...args], { encoding: "utf8" }).trim();
    expect((await loadManifests(current.dir)).revision).toBeUndefined();
    git("init", "-q");
    git("add", ".");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "manifests");
    const commit = git("rev-parse", "HEAD");
    expect((await loadManifests(current.dir)).revision).toEqual({ commit, dirty: false });
    current.write("web.yaml", doc("Service", "web", "project: shop\nimage: web:9"));
    expect((await loadManifests(current.dir)).revision).toEqual({ commit, dirty: true });
  });
});
