import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DesiredState } from "../../../src/manifests/load.ts";
import type { Service } from "../../../src/manifests/types.ts";
import { watchManifests, type ManifestWatcher } from "../../../src/manifests/watch.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

const DEBOUNCE_MS = 100;
let current: ManifestDir | undefined;
let watcher: ManifestWatcher | undefined;

afterEach(async () => {
  await watcher?.close();
  current?.cleanup();
});

/** Starts a watcher that records every state it emits; `next()` resolves with the next one. */
async function startWatching() {
  current = createManifestDir(baseProject());
  const seen: DesiredState[] = [];
  const waiters: ((s: DesiredState) => void)[] = [];
  watcher = await watchManifests(current.dir, {
    debounceMs: DEBOUNCE_MS,
    onChange: (state) => {
      seen.push(state);
      waiters.shift()?.(state);
    },
  });
  const next = () => new Promise<DesiredState>((resolve) => waiters.push(resolve));
  /** Lets any further (unwanted) change arrive before counting. */
  const settle = () => new Promise((r) => setTimeout(r, DEBOUNCE_MS * 5));
  return { dir: current, seen, next, settle };
}

const serviceImage = (state: DesiredState, name: string) =>
  (state.resources.find((r) => r.kind === "Service" && r.metadata.name === name) as Service | undefined)?.spec.image;

describe("manifest watcher", () => {
  it("starts with the directory's state", async () => {
    await startWatching();
    expect(watcher!.current.resources).toHaveLength(4);
    expect(watcher!.current.complete).toBe(true);
  });

  it("emits a new state when a file is added, changed and deleted", async () => {
    const { dir, next } = await startWatching();

    let change = next();
    dir.write("api.yaml", doc("Service", "api", "project: shop\nimage: api:1"));
    expect(serviceImage(await change, "api")).toBe("api:1");

    change = next();
    dir.write("api.yaml", doc("Service", "api", "project: shop\nimage: api:2"));
    expect(serviceImage(await change, "api")).toBe("api:2");

    change = next();
    dir.remove("api.yaml");
    expect(serviceImage(await change, "api")).toBeUndefined();
  });

  it("keeps the previous resources in force when an edit is invalid, and shows the error", async () => {
    const { dir, next } = await startWatching();
    const change = next();
    dir.write("web.yaml", doc("Service", "web", "project: shop\nimage: [web:2"));
    const state = await change;
    expect(state.complete).toBe(false);
    expect(state.errors.map((e) => `${e.file.split("/").pop()}: ${e.problem}`)).toEqual([
      "web.yaml: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
    expect(serviceImage(state, "web")).toBe("web:1");
  });

  it("treats an editor's atomic save (write a temp file, rename it over) as one change", async () => {
    const { dir, seen, next, settle } = await startWatching();
    const change = next();
    const temp = join(dir.dir, ".web.yaml.tmp-4913");
    writeFileSync(temp, doc("Service", "web", "project: shop\nimage: web:atomic"));
    renameSync(temp, join(dir.dir, "web.yaml"));
    expect(serviceImage(await change, "web")).toBe("web:atomic");
    await settle();
    expect(seen).toHaveLength(1);
  });

  it("treats a backup-and-rewrite save (rename to web.yaml~, write anew) as one change", async () => {
    const { dir, seen, next, settle } = await startWatching();
    const change = next();
    renameSync(join(dir.dir, "web.yaml"), join(dir.dir, "web.yaml~"));
    writeFileSync(join(dir.dir, "web.yaml"), doc("Service", "web", "project: shop\nimage: web:vim"));
    dir.remove("web.yaml~");
    expect(serviceImage(await change, "web")).toBe("web:vim");
    await settle();
    expect(seen).toHaveLength(1);
  });

  it("follows a rename of a file: same resources, no change in force", async () => {
    const { dir, seen, next, settle } = await startWatching();
    const change = next();
    renameSync(join(dir.dir, "web.yaml"), join(dir.dir, "frontend.yaml"));
    const state = await change;
    expect(serviceImage(state, "web")).toBe("web:1");
    expect(state.files.map((f) => f.file.split("/").pop()).sort()).toEqual(["base.yaml", "frontend.yaml"]);
    await settle();
    expect(seen).toHaveLength(1);
  });

  it("ignores changes to files it does not read", async () => {
    const { dir, seen, settle } = await startWatching();
    dir.write("README.md", "# notes");
    dir.write(".draft.yaml", "kind: [");
    await settle();
    expect(seen).toHaveLength(0);
  });

  it("reports the state again when a file of an input (a build context) changes, though no manifest did", async () => {
    current = createManifestDir(baseProject());
    const context = join(current.dir, "images", "web");
    current.write("images/web/index.html", "v1\n");
    const seen: DesiredState[] = [];
    watcher = await watchManifests(current.dir, { debounceMs: DEBOUNCE_MS, inputs: () => [context], onChange: (state) => seen.push(state) });
    current.write("images/web/index.html", "v2\n");
    await new Promise((r) => setTimeout(r, DEBOUNCE_MS * 8));
    expect(seen).toHaveLength(1);
    // A file outside every input still changes nothing.
    current.write("notes.txt", "x");
    await new Promise((r) => setTimeout(r, DEBOUNCE_MS * 5));
    expect(seen).toHaveLength(1);
  });
});
