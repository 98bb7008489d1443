import { describe, expect, it } from "vitest";
import { openStore } from "../../../src/store/index.ts";

describe("ResourceRepository.declare", () => {
  it("stores a spec change that leaves the container revision alone (dependsOn), and bumps the generation as Kubernetes does", async () => {
    const store = await openStore("file::memory:");
    const key = "Service/dev/web";
    await store.resources.declare({ key, kind: "Service", name: "dev/web", spec: { image: "web:1" }, specHash: "rev-1" });
    const changed = await store.resources.declare({ key, kind: "Service", name: "dev/web", spec: { image: "web:1", dependsOn: [{ service: "db" }] }, specHash: "rev-1" });
    expect(JSON.parse(changed.spec)).toEqual({ image: "web:1", dependsOn: [{ service: "db" }] });
    expect(changed.generation).toBe(2);
    // The same spec again is no change at all.
    const same = await store.resources.declare({ key, kind: "Service", name: "dev/web", spec: { image: "web:1", dependsOn: [{ service: "db" }] }, specHash: "rev-1" });
    expect(same.generation).toBe(2);
    expect(same.stateVersion).toBe(changed.stateVersion);
    store.close();
  });
});
