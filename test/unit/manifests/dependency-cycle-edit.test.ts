import { afterEach, describe, expect, it } from "vitest";
import { ManifestLoader } from "../../../src/manifests/load.ts";
import type { Service } from "../../../src/manifests/types.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

let current: ManifestDir | undefined;
afterEach(() => current?.cleanup());

const base = (name: string) => name.split("/").pop();
const service = (resources: { kind: string; metadata: { name: string } }[], name: string) =>
  resources.find((r) => r.kind === "Service" && r.metadata.name === name) as Service | undefined;
const stateOf = (files: { file: string; state: string }[]) => Object.fromEntries(files.map((f) => [base(f.file), f.state]));

describe("an edit that closes a dependency cycle", () => {
  it("holds back only the edited file; the unchanged file stays valid and in force", async () => {
    current = createManifestDir({
      ...baseProject(),
      "api.yaml": doc("Service", "api", "project: shop\nimage: api:1\ndependsOn:\n  - service: db"),
      "db.yaml": doc("Service", "db", "project: shop\nimage: db:1"),
    });
    const loader = new ManifestLoader(current.dir);
    const good = await loader.load();
    expect(good.errors).toEqual([]);

    current.write("db.yaml", doc("Service", "db", "project: shop\nimage: db:2\ndependsOn:\n  - service: api"));
    const state = await loader.load();

    expect(state.complete).toBe(false);
    expect(state.errors.map((e) => `${base(e.file)}: ${e.resource}: ${e.problem}`)).toEqual([
      "db.yaml: Service/db: dependency cycle: db -> api -> db",
    ]);
    expect(state.errors[0]!.message).toContain("e.g. dependsOn: [] in Service/db");
    expect(stateOf(state.files)).toEqual({ "base.yaml": "valid", "web.yaml": "valid", "api.yaml": "valid", "db.yaml": "stale" });
    // In force: the last good db (no dependsOn, image db:1) and the current api: no cycle.
    expect(service(state.resources, "db")!.spec).toMatchObject({ image: "db:1" });
    expect(service(state.resources, "db")!.spec.dependsOn).toBeUndefined();
    expect(service(state.resources, "api")!.spec.dependsOn).toMatchObject([{ service: "db" }]);

    // Fixing the edit brings db.yaml back; api.yaml never left.
    current.write("db.yaml", doc("Service", "db", "project: shop\nimage: db:2"));
    const fixed = await loader.load();
    expect(fixed.complete).toBe(true);
    expect(service(fixed.resources, "db")!.spec.image).toBe("db:2");
  });

  it("blames the edited file whichever service of the cycle sorts first", async () => {
    current = createManifestDir({
      ...baseProject(),
      "api.yaml": doc("Service", "api", "project: shop\nimage: api:1"),
      "db.yaml": doc("Service", "db", "project: shop\nimage: db:1\ndependsOn:\n  - service: api"),
    });
    const loader = new ManifestLoader(current.dir);
    expect((await loader.load()).errors).toEqual([]);

    current.write("api.yaml", doc("Service", "api", "project: shop\nimage: api:2\ndependsOn:\n  - service: db"));
    const state = await loader.load();
    expect(state.errors.map((e) => `${base(e.file)}: ${e.problem}`)).toEqual(["api.yaml: dependency cycle: api -> db -> api"]);
    expect(stateOf(state.files)).toMatchObject({ "api.yaml": "stale", "db.yaml": "valid" });
    expect(service(state.resources, "api")!.spec.image).toBe("api:1");
  });

  it("blames the dependsOn entry that is new, not a file that changed something else", async () => {
    current = createManifestDir({
      ...baseProject(),
      "api.yaml": doc("Service", "api", "project: shop\nimage: api:1\ndependsOn:\n  - service: db"),
      "db.yaml": doc("Service", "db", "project: shop\nimage: db:1"),
    });
    const loader = new ManifestLoader(current.dir);
    expect((await loader.load()).errors).toEqual([]);

    // Both files change, but only db.yaml closes the loop.
    current.write("api.yaml", doc("Service", "api", "project: shop\nimage: api:2\ndependsOn:\n  - service: db"));
    current.write("db.yaml", doc("Service", "db", "project: shop\nimage: db:2\ndependsOn:\n  - service: api"));
    const state = await loader.load();
    expect(state.errors.map((e) => `${base(e.file)}: ${e.problem}`)).toEqual(["db.yaml: dependency cycle: db -> api -> db"]);
    expect(stateOf(state.files)).toMatchObject({ "api.yaml": "valid", "db.yaml": "stale" });
    expect(service(state.resources, "api")!.spec.image).toBe("api:2");
    expect(service(state.resources, "db")!.spec.image).toBe("db:1");
  });

  it("without a previous state, reports the cycle from its alphabetically first service as before", async () => {
    current = createManifestDir({
      ...baseProject(),
      "api.yaml": doc("Service", "api", "project: shop\nimage: api:1\ndependsOn:\n  - service: db"),
      "db.yaml": doc("Service", "db", "project: shop\nimage: db:1\ndependsOn:\n  - service: api"),
    });
    const state = await new ManifestLoader(current.dir).load();
    expect(state.errors.map((e) => `${base(e.file)}: ${e.problem}`)).toEqual(["api.yaml: dependency cycle: api -> db -> api"]);
    expect(stateOf(state.files)).toMatchObject({ "api.yaml": "invalid", "db.yaml": "valid" });
  });
});

describe("other rules whose problem involves two files", () => {
  it("a new file declaring a name already in force is the one held back, even when it sorts first", async () => {
    current = createManifestDir(baseProject());
    const loader = new ManifestLoader(current.dir);
    expect((await loader.load()).errors).toEqual([]);

    current.write("again.yaml", doc("Service", "web", "project: shop\nimage: web:2"));
    const state = await loader.load();
    expect(state.errors.map((e) => `${base(e.file)}: ${e.problem.replace(current!.dir + "/", "")}`)).toEqual([
      "again.yaml: duplicate name: Service/web is already declared at web.yaml:1:1",
    ]);
    expect(stateOf(state.files)).toMatchObject({ "again.yaml": "invalid", "web.yaml": "valid" });
    expect(service(state.resources, "web")!.spec.image).toBe("web:1");
  });

  it("deleting a file that others depend on reports the dangling reference where it is written", async () => {
    current = createManifestDir({
      ...baseProject(),
      "api.yaml": doc("Service", "api", "project: shop\nimage: api:1\ndependsOn:\n  - service: db"),
      "db.yaml": doc("Service", "db", "project: shop\nimage: db:1"),
    });
    const loader = new ManifestLoader(current.dir);
    expect((await loader.load()).errors).toEqual([]);

    current.remove("db.yaml");
    const state = await loader.load();
    // The deleted file cannot be held back; the fix is in api.yaml (or restoring db.yaml), and
    // an incomplete state prunes nothing, so the running db stays until the manifests agree again.
    expect(state.complete).toBe(false);
    expect(state.errors.map((e) => `${base(e.file)}: ${e.problem}`)).toEqual(["api.yaml: Service/db does not exist in Project/shop"]);
    expect(service(state.resources, "api")!.spec.image).toBe("api:1");
  });
});
