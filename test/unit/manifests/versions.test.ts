import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { CRD_DIR } from "../../../src/manifests/crd-schema.ts";
import { renderCrd } from "../../../src/manifests/generate-json-schemas.ts";
import { KINDS, type Kind } from "../../../src/manifests/kinds.ts";
import { loadManifests } from "../../../src/manifests/load.ts";
import { migrateText } from "../../../src/manifests/migrate.ts";
import { convertData, RENAMED, V1ALPHA1, V1BETA1 } from "../../../src/manifests/versions.ts";
import { baseProject, createManifestDir, type ManifestDir } from "../../support/manifest-dir.ts";

let current: ManifestDir | undefined;
afterEach(() => current?.cleanup());

describe("conversion between v1alpha1 and v1beta1", () => {
  // Every renamed value, both ways: what one version says, the other says in its own words.
  const table = Object.entries(RENAMED).flatMap(([kind, fields]) => fields.flatMap((f) => Object.entries(f.values).map(([alpha, beta]) => ({ kind: kind as Kind, path: f.path, alpha, beta }))));
  const at = (path: readonly string[], value: string): Record<string, unknown> => {
    const [head, ...rest] = path;
    if (head === undefined) return value as never;
    return head === "*" ? ([at(rest, value)] as never) : { [head]: rest.length ? at(rest, value) : value };
  };

  it.each(table)("$kind $path: $alpha <-> $beta", ({ kind, path, alpha, beta }) => {
    const v1alpha1 = { apiVersion: V1ALPHA1, kind, ...at(path, alpha) };
    const v1beta1 = { apiVersion: V1BETA1, kind, ...at(path, beta) };
    expect(convertData(kind, structuredClone(v1alpha1), V1BETA1)).toEqual(v1beta1);
    expect(convertData(kind, structuredClone(v1beta1), V1ALPHA1)).toEqual(v1alpha1);
  });

  it("every list item is converted, and a value it does not know is left for validation to name", () => {
    const service = { apiVersion: V1BETA1, spec: { dependsOn: [{ service: "db", condition: "Healthy" }, { service: "migrate", condition: "Completed" }, { service: "x", condition: "Soon" }] } };
    expect(convertData("Service", service, V1ALPHA1).spec).toEqual({ dependsOn: [{ service: "db", condition: "service_healthy" }, { service: "migrate", condition: "service_completed_successfully" }, { service: "x", condition: "Soon" }] });
  });
});

describe("berth migrate's edits", () => {
  it("change the apiVersion and the renamed values where they are written: comments, quotes, flow style and order stay", () => {
    const text = `# The API, served by two replicas.
apiVersion: "berth.dev/v1alpha1" # quoted on purpose
kind: Service
metadata: {name: api}
spec:
  project: shop
  image: api:1
  restartPolicy: 'on-failure'
  dependsOn: [{service: db, condition: service_healthy}]
  update:
    # never two at once
    strategy: recreate
---
kind: Environment
apiVersion: berth.dev/v1alpha1
metadata:
  name: prod
spec: {project: shop, target: local, tier: production}
`;
    const migrated = migrateText(text, V1BETA1);
    expect(migrated.documents).toBe(2);
    expect(migrated.text).toBe(
      text
        .replace('"berth.dev/v1alpha1"', '"berth.dev/v1beta1"')
        .replace("'on-failure'", "'OnFailure'")
        .replace("condition: service_healthy", "condition: Healthy")
        .replace("strategy: recreate", "strategy: Recreate")
        .replace("apiVersion: berth.dev/v1alpha1", "apiVersion: berth.dev/v1beta1")
        .replace("tier: production", "tier: Production"),
    );
    expect(migrateText(migrated.text, V1BETA1).documents).toBe(0);
    expect(migrateText(migrated.text, V1ALPHA1).text).toBe(text);
  });

  it("leave what is not a manifest alone, and refuse a file that does not parse", () => {
    const sops = "data: ENC[AES256_GCM,data:abc]\nsops:\n  mac: x\n";
    expect(migrateText(sops, V1BETA1)).toEqual({ text: sops, documents: 0 });
    expect(() => migrateText("kind: Service\n  bad: [\n", V1BETA1, "svc.yaml")).toThrow(/svc.yaml: not migrated, its YAML does not parse/);
  });
});

describe("loading both versions", () => {
  it("a v1beta1 document is validated against its own schema, reconciled in Berth's one form, and a v1alpha1 file draws one deprecation warning", async () => {
    const base = baseProject();
    expect(Object.keys(base)).toEqual(["base.yaml", "web.yaml"]);
    current = createManifestDir({
      ...base,
      "web.yaml": `apiVersion: berth.dev/v1beta1
kind: Service
metadata:
  name: web
spec:
  project: shop
  image: web:1
  restartPolicy: OnFailure
  update: {strategy: Recreate}
`,
    });
    const state = await loadManifests(current.dir);
    expect(state.errors).toEqual([]);
    const web = state.resources.find((r) => r.kind === "Service" && r.metadata.name === "web")!;
    expect(web.spec).toMatchObject({ restartPolicy: "on-failure", update: { strategy: "recreate" } });
    const deprecated = state.deprecations ?? [];
    // base.yaml, which holds three v1alpha1 documents: one warning for the file.
    expect(deprecated.map((w) => w.file.split("/").at(-1))).toEqual(["base.yaml"]);
    expect(deprecated.every((w) => !w.file.endsWith("web.yaml"))).toBe(true);
  });

  it("a v1alpha1 value in a v1beta1 document is an error at its place, naming the values v1beta1 takes", async () => {
    current = createManifestDir({ ...baseProject(), "web.yaml": "apiVersion: berth.dev/v1beta1\nkind: Service\nmetadata: {name: web}\nspec:\n  project: shop\n  image: web:1\n  restartPolicy: on-failure\n" });
    const state = await loadManifests(current.dir);
    const error = state.errors.find((e) => e.file.endsWith("web.yaml"));
    expect(error?.line).toBe(7);
    expect(error?.message).toMatch(/Never.*Always.*OnFailure.*UnlessStopped/);
  });

  it("the CRDs serve both versions, v1beta1 generated from v1alpha1 and in step with it", () => {
    for (const kind of KINDS) {
      const file = `${CRD_DIR}/${kind.toLowerCase()}.yaml`;
      expect(readFileSync(file, "utf8"), `${file} is stale: npm run crds:json`).toBe(renderCrd(kind));
    }
  });
});
