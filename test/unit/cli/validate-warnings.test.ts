import { afterEach, describe, expect, it } from "vitest";
import { cliRunner } from "../../support/cli.ts";
import { createManifestDir, type ManifestDir } from "../../support/manifest-dir.ts";
import { shopFiles } from "../../support/shop.ts";

const berth = cliRunner({});

let current: ManifestDir | undefined;
afterEach(() => current?.cleanup());

/** A shop whose web Service asks for rolling updates of a named volume and holds a 4-character secret. */
function warnedShop(extra: Record<string, string> = {}): string {
  current = createManifestDir({
    ...shopFiles({
      services: {
        web: {
          image: "web:1",
          env: [{ name: "API_TOKEN", value: "x7Q!", secret: true }],
          volumes: [{ source: "data", target: "/data" }],
          update: { strategy: "rolling" },
        },
      },
    }),
    ...extra,
  });
  return current.dir;
}

describe("berth validate with warnings", () => {
  it("prints each warning as `warning: file:line:col: …` and still exits 0 when there are only warnings", async () => {
    const dir = warnedShop();
    const { code, stdout } = await berth("validate", dir);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^warning: .*\/services\/web\.yaml:10:14: Service\/web: secret env API_TOKEN is shorter than 6 characters/),
      expect.stringMatching(/^warning: .*\/services\/web\.yaml:16:15: Service\/web: a rolling update runs the old and the new container side by side, both writing named volume data; expected update\.strategy: recreate, or accept two containers writing the volume during an update/),
      expect.stringMatching(/: valid \(2 files: 1 DeploymentTarget, 1 Project, 1 Environment, 1 Service\); 2 warnings$/),
    ]);
    expect(stdout).not.toContain("x7Q!");
  });

  it("lists warnings after the errors when there are both, and exits 1", async () => {
    const dir = warnedShop({ "services/api.yaml": "apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata:\n  name: api\nspec:\n  project: shopp\n  image: api:1\n" });
    const { code, stdout } = await berth("validate", dir);
    expect(code).toBe(1);
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/\/services\/api\.yaml:6:12: Service\/api: Project\/shopp does not exist/);
    expect(lines[1]).toMatch(/^warning: .*secret env API_TOKEN/);
    expect(lines[2]).toMatch(/^warning: .*a rolling update/);
    expect(lines[3]).toMatch(/: 1 problem in 3 files; 2 warnings$/);
  });

  it("reports warnings in a `warnings` array with -o json, valid stays true", async () => {
    const dir = warnedShop();
    const { code, stdout } = await berth("validate", dir, "-o", "json");
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.valid).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toHaveLength(2);
    expect(report.warnings[1]).toMatchObject({
      file: expect.stringMatching(/\/services\/web\.yaml$/),
      line: 16,
      col: 15,
      resource: "Service/web",
      problem: expect.stringContaining("named volume data"),
      expected: "update.strategy: recreate, or accept two containers writing the volume during an update",
      example: "strategy: recreate",
      message: expect.stringContaining("web.yaml:16:15: Service/web:"),
    });
    expect(stdout).not.toContain("x7Q!");
  });

  it("keeps an empty `warnings` array in JSON for clean manifests", async () => {
    const { stdout } = await berth("validate", "manifests", "-o", "json");
    expect(JSON.parse(stdout).warnings).toEqual([]);
  });
});
