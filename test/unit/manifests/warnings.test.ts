import { afterEach, describe, expect, it } from "vitest";
import { loadManifests, ManifestLoader } from "../../../src/manifests/load.ts";
import { createManifestDir, type ManifestDir } from "../../support/manifest-dir.ts";
import { shopFiles, type Shop } from "../../support/shop.ts";

let current: ManifestDir | undefined;
afterEach(() => current?.cleanup());

/** Loads a shop and returns its errors and warnings with the directory stripped. */
async function check(shop: Shop) {
  current = createManifestDir(shopFiles(shop));
  const state = await loadManifests(current.dir);
  const strip = (m: string) => m.split(`${current!.dir}/`).join("");
  return { state, errors: state.errors.map((e) => strip(e.message)), warnings: (state.warnings ?? []).map((w) => strip(w.message)) };
}

const DATA = { source: "data", target: "/data" };

describe("validation warnings", () => {
  it("a valid shop has none, and the state carries an empty list", async () => {
    const { state, errors } = await check({ services: { web: { image: "web:1" } } });
    expect(errors).toEqual([]);
    expect(state.warnings).toEqual([]);
  });

  describe("rolling updates of a service that writes a named volume", () => {
    it("warns when rolling is asked for explicitly, naming the two-writer risk and the way out", async () => {
      const { state, errors, warnings } = await check({ services: { web: { image: "web:1", volumes: [DATA], update: { strategy: "rolling" } } } });
      expect(errors).toEqual([]);
      expect(warnings).toEqual([
        "services/web.yaml:12:15: Service/web: a rolling update runs the old and the new container side by side, both writing named volume data; expected update.strategy: recreate, or accept two containers writing the volume during an update, e.g. strategy: recreate",
      ]);
      // A warning is located like an error and never makes the state incomplete.
      expect(state.warnings?.[0]).toMatchObject({ line: 12, col: 15, resource: "Service/web", expected: expect.stringContaining("recreate") });
      expect(state.complete).toBe(true);
      expect(state.files.map((f) => f.state)).toEqual(["valid", "valid"]);
      expect(state.resources.map((r) => `${r.kind}/${r.metadata.name}`)).toContain("Service/web");
    });

    it("names every writable named volume", async () => {
      const volumes = [DATA, { source: "logs", target: "/logs" }, { source: "assets", target: "/assets", readOnly: true }];
      const { warnings } = await check({ services: { web: { image: "web:1", volumes, update: { strategy: "rolling" } } } });
      expect(warnings).toEqual([expect.stringContaining("both writing named volumes data, logs;")]);
    });

    it.each([
      { what: "the default strategy (recreate)", spec: { volumes: [DATA] } },
      { what: "explicit recreate", spec: { volumes: [DATA], update: { strategy: "recreate" } } },
      { what: "a read-only named volume", spec: { volumes: [{ ...DATA, readOnly: true }], update: { strategy: "rolling" } } },
      { what: "a bind mount", spec: { volumes: [{ type: "bind", source: "./config", target: "/config" }], update: { strategy: "rolling" } } },
      { what: "a tmpfs mount", spec: { volumes: [{ type: "tmpfs", target: "/tmp" }], update: { strategy: "rolling" } } },
    ])("does not warn with $what", async ({ spec }) => {
      expect((await check({ services: { web: { image: "web:1", ...spec } } })).warnings).toEqual([]);
    });
  });

  describe("secret literals too short to mask", () => {
    it("warns about a secret value under 6 characters, naming the variable and never the value", async () => {
      const env = [{ name: "API_TOKEN", value: "x7Q!", secret: true }];
      const { state, errors, warnings } = await check({ services: { web: { image: "web:1", env } } });
      expect(errors).toEqual([]);
      expect(warnings).toEqual([
        "services/web.yaml:10:14: Service/web: secret env API_TOKEN is shorter than 6 characters, too short to mask safely in logs; expected a secret value of at least 6 characters, or secret: false if it is not a secret",
      ]);
      expect(JSON.stringify(state.warnings)).not.toContain("x7Q!");
      expect(state.complete).toBe(true);
    });

    it("checks an Environment's override env too", async () => {
      const { warnings } = await check({
        services: { web: { image: "web:1" } },
        environments: { dev: {}, prod: { overrides: { web: { env: [{ name: "PIN", value: "1234", secret: true }] } } } },
      });
      expect(warnings).toEqual([expect.stringMatching(/^base\.yaml:\d+:\d+: Environment\/prod: secret env PIN is shorter than 6 characters/)]);
      expect(warnings.join("\n")).not.toContain("1234");
    });

    it("warns about an empty secret", async () => {
      const { warnings } = await check({ services: { web: { image: "web:1", env: [{ name: "EMPTY", value: "", secret: true }] } } });
      expect(warnings).toEqual([expect.stringContaining("secret env EMPTY is shorter than 6 characters")]);
    });

    it.each([
      { what: "a secret of 6 characters", env: [{ name: "TOKEN", value: "abcdef", secret: true }] },
      { what: "a short value that is not secret", env: [{ name: "LEVEL", value: "info" }] },
      { what: "a secret read from the daemon's environment", env: [{ name: "TOKEN", valueFrom: { daemonEnv: "TOKEN" }, secret: true }] },
    ])("does not warn about $what", async ({ env }) => {
      expect((await check({ services: { web: { image: "web:1", env } } })).warnings).toEqual([]);
    });
  });

  it("never holds a file back: a file with only warnings becomes its last good version", async () => {
    const shop: Shop = { services: { web: { image: "web:1", volumes: [DATA], update: { strategy: "rolling" } } } };
    current = createManifestDir(shopFiles(shop));
    const loader = new ManifestLoader(current.dir);
    const first = await loader.load();
    expect(first.warnings).toHaveLength(1);
    expect(first.errors).toEqual([]);

    current.write("services/web.yaml", "apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  project: shop\n  image: web:2\n  replicas: -1\n");
    const second = await loader.load();
    expect(second.errors).not.toEqual([]);
    expect(second.files.find((f) => f.file.endsWith("web.yaml"))?.state).toBe("stale");
  });
});
