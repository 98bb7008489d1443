import { describe, expect, it } from "vitest";
import { renderPlan } from "../../../src/engine/plan.ts";

describe("renderPlan", () => {
  it("never says No changes when something could not be planned", () => {
    const text = renderPlan({ changes: [], errors: [{ resource: "Service/dev/web", message: "DeploymentTarget/local is not connected: refused" }] });
    expect(text).not.toContain("No changes");
    expect(text).toContain("! Service/dev/web: cannot plan: DeploymentTarget/local is not connected: refused");
    expect(text).toContain("1 resource(s) could not be planned.");
  });

  it("names the strategy and the changed fields of a rollout", () => {
    const text = renderPlan({ changes: [{ resource: "Service/dev/web", action: "rollout", strategy: "rolling", reason: "rolling update, 2 replicas, maxSurge 1, maxUnavailable 0", fields: ["spec.image"] }], errors: [] });
    expect(text).toBe("~ Service/dev/web: rollout (rolling update, 2 replicas, maxSurge 1, maxUnavailable 0); changed: spec.image\n1 change pending.\n");
  });

  it("says No changes only when there are neither changes nor errors", () => {
    expect(renderPlan({ changes: [], errors: [] })).toBe("No changes: Docker matches the manifests.\n");
  });
});
