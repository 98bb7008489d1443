import { describe, expect, it } from "vitest";
import { withComposeAdoption } from "../../../src/cli/adopt-flag.ts";
import type { DesiredState } from "../../../src/manifests/load.ts";
import type { Resource } from "../../../src/manifests/types.ts";

const source = { file: "m.yaml", line: 1, col: 1 };
const environment = (name: string, adopt?: string): Resource => ({ apiVersion: "berth.dev/v1alpha1", kind: "Environment", metadata: { name }, spec: { project: "shop", target: "local", tier: "production", pruneVolumes: false, suspend: false, ...(adopt ? { adopt } : {}) }, source });
const state = (...resources: Resource[]): DesiredState => ({ dir: "m", resources, errors: [], files: [], contentHash: "x", complete: true, loadedAt: new Date(0) });

describe("apply --adopt-compose", () => {
  it("sets adopt on the one Environment, leaving the loaded state as it was", () => {
    const loaded = state(environment("production"));
    const adopted = withComposeAdoption(loaded, "shop");
    expect(adopted.resources[0]!.spec).toMatchObject({ adopt: "compose/shop" });
    expect(loaded.resources[0]!.spec).not.toHaveProperty("adopt");
  });

  it("refuses when it cannot tell which Environment is meant, or when another project is adopted already", () => {
    expect(() => withComposeAdoption(state(environment("dev"), environment("prod")), "shop")).toThrow(/needs exactly one Environment in the manifests, found 2 \(dev, prod\); expected adopt: compose\/shop/);
    expect(() => withComposeAdoption(state(environment("prod", "compose/other")), "shop")).toThrow(/already adopts compose\/other/);
    expect(withComposeAdoption(state(environment("prod", "compose/shop")), "shop").resources[0]!.spec).toMatchObject({ adopt: "compose/shop" });
  });
});
