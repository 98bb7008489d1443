import { afterEach, describe, expect, it } from "vitest";
import { createStore, type Store } from "../../../src/store/index.ts";
import { openDatabase } from "../../../src/store/store.ts";

let store: Store | undefined;
let clock = 1_700_000_000_000;
afterEach(() => {
  store?.close();
  store = undefined;
});

const valid = (file: string) => ({ file, state: "valid" as const, errors: [], resources: [] });
const broken = (file: string, message: string) => ({ file, state: "stale" as const, errors: [{ line: 8, col: 13, message }], resources: ["Service/web"] });

describe("manifest_files", () => {
  it("replaces the full set, keeping a row's time while it is unchanged", async () => {
    store = createStore(await openDatabase("file::memory:"), () => clock);
    await store.manifests.replace([valid("base.yaml"), broken("web.yaml", "Service/web: replicas: lots")]);
    clock += 60_000;
    await store.manifests.replace([valid("base.yaml"), broken("web.yaml", "Service/web: replicas: lots"), valid("api.yaml")]);
    expect(await store.manifests.list()).toEqual([
      { ...valid("api.yaml"), updatedAt: clock },
      { ...valid("base.yaml"), updatedAt: clock - 60_000 },
      { ...broken("web.yaml", "Service/web: replicas: lots"), updatedAt: clock - 60_000 },
    ]);

    clock += 60_000;
    await store.manifests.replace([valid("base.yaml"), broken("web.yaml", "Service/web: image: missing")]);
    const rows = await store.manifests.list();
    expect(rows.map((r) => r.file)).toEqual(["base.yaml", "web.yaml"]);
    expect(rows[1]).toEqual({ ...broken("web.yaml", "Service/web: image: missing"), updatedAt: clock });

    await store.manifests.replace([]);
    expect(await store.manifests.list()).toEqual([]);
  });
});
