import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { CRD_DIR, readCrdSchema } from "../../../src/manifests/crd-schema.ts";
import { renderJsonSchemaFiles } from "../../../src/manifests/generate-json-schemas.ts";
import { loadManifests } from "../../../src/manifests/load.ts";
import type { Service } from "../../../src/manifests/types.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

let current: ManifestDir | undefined;
afterEach(() => current?.cleanup());

async function load(files: Record<string, string>) {
  current = createManifestDir({ ...baseProject(), ...files });
  const state = await loadManifests(current.dir);
  return { state, messages: state.errors.map((e) => e.message.split(`${current!.dir}/`).join("")) };
}

describe("CRDs", () => {
  it("committed JSON Schemas match the CRDs (run `npm run crds:json` after editing crds/)", () => {
    for (const [name, content] of Object.entries(renderJsonSchemaFiles())) {
      expect(readFileSync(`${CRD_DIR}/json/${name}`, "utf8"), name).toBe(content);
    }
  });

  it("Environment overrides use exactly the Service schemas for env, resources and ports", () => {
    const service = (readCrdSchema("Service") as any).properties.spec.properties;
    const override = (readCrdSchema("Environment") as any).properties.spec.properties.overrides.additionalProperties.properties;
    for (const field of ["env", "resources", "ports"]) expect(override[field], field).toEqual(service[field]);
  });
});

describe("schema validation", () => {
  it("fills in defaults from the CRD", async () => {
    const { state } = await load({});
    const web = state.resources.find((r) => r.kind === "Service") as Service;
    expect(web.spec).toMatchObject({ replicas: 1, imagePullPolicy: "IfNotPresent", restartPolicy: "unless-stopped", stopGracePeriod: "10s" });
  });

  it.each([
    {
      name: "YAML syntax error",
      file: 'apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  project: shop\n  image: "web:1\n',
      want: [
        "web.yaml:8:1: Service/web: YAML syntax error: Missing closing \"quote; expected valid YAML: consistent indentation, a space after each ':', quotes around values containing ': ' or '#', e.g. name: web",
      ],
    },
    {
      name: "duplicate key",
      file: doc("Service", "web", "project: shop\nimage: web:1\nimage: web:2"),
      want: [
        "web.yaml:8:3: Service/web: YAML syntax error: Map keys must be unique; expected valid YAML: consistent indentation, a space after each ':', quotes around values containing ': ' or '#', e.g. name: web",
      ],
    },
    {
      name: "unknown field with a suggestion",
      file: doc("Service", "web", "project: shop\nimage: web:1\nreplica: 2"),
      want: [
        'web.yaml:8:3: Service/web: unknown field "replica" (did you mean "replicas"?); expected one of project, role, image, imagePullPolicy, build, command, entrypoint, workingDir, user, hostname, env, ports, volumes, networks, healthCheck, dependsOn, replicas, global, placement, resources, restartPolicy, stopGracePeriod, labels, routing, update, e.g. replicas: 2',
      ],
    },
    {
      name: "value outside an enum",
      file: doc("Service", "web", "project: shop\nimage: web:1\nimagePullPolicy: always"),
      want: [
        'web.yaml:8:20: Service/web: always is not a valid "imagePullPolicy" (did you mean Always?); expected one of IfNotPresent | Always | Never, e.g. Always',
      ],
    },
    {
      name: "port out of range",
      file: doc("Service", "web", "project: shop\nimage: web:1\nports:\n  - container: 80\n    host: 70000"),
      want: ['web.yaml:10:13: Service/web: 70000 is out of range for "host"; expected a whole number from 1 to 65535, e.g. 8080'],
    },
    {
      name: "wrong type",
      file: doc("Service", "web", "project: shop\nimage: web:1\nreplicas: two"),
      want: ['web.yaml:8:13: Service/web: "replicas" is two; expected a whole number, e.g. 2'],
    },
    {
      name: "neither image nor build",
      file: doc("Service", "web", "project: shop"),
      want: ['web.yaml:5:1: Service/web: "spec" sets none of "image", "build"; expected exactly one of "image", "build", e.g. image: nginx:1.27'],
    },
    {
      name: "both image and build",
      file: doc("Service", "web", "project: shop\nimage: web:1\nbuild: {context: ./web}"),
      want: [
        'web.yaml:8:3: Service/web: "image" and "build" cannot be used together in "spec"; expected exactly one of "image", "build", e.g. image: nginx:1.27',
      ],
    },
    {
      name: "name that is not a DNS label",
      file: doc("Service", "Web_1", "project: shop\nimage: web:1"),
      want: [
        'web.yaml:4:9: Service/Web_1: Web_1 is not a valid "name"; expected a DNS label: lowercase letters, digits and \'-\', starting and ending with a letter or digit, e.g. web',
      ],
    },
    {
      name: "relative volume target and bad duration",
      file: doc("Service", "web", "project: shop\nimage: web:1\nvolumes:\n  - {source: data, target: data}\nstopGracePeriod: 10 seconds"),
      want: [
        'web.yaml:9:30: Service/web: data is not a valid "target"; expected an absolute path starting with /, e.g. /var/lib/data',
        'web.yaml:10:20: Service/web: 10 seconds is not a valid "stopGracePeriod"; expected a duration such as 500ms, 10s, 1m30s or 2h, e.g. 30s',
      ],
    },
    {
      name: "a wrong value under env is named, never repeated (it may be a secret)",
      file: doc("Service", "web", "project: shop\nimage: web:1\nenv:\n  - {name: TOKEN, value: 86753091, secret: true}"),
      want: ['web.yaml:9:28: Service/web: "value" is (value hidden); expected a string, e.g. info'],
    },
    {
      name: "missing required field",
      file: doc("Service", "api", "image: api:1"),
      as: "api.yaml",
      want: ['api.yaml:5:1: Service/api: missing required field "project"; expected "project" under "spec", e.g. project: shop'],
    },
    {
      name: "ssh target without a host key",
      file: doc("DeploymentTarget", "remote", "type: ssh\nssh:\n  host: 203.0.113.7\n  user: deploy"),
      as: "remote.yaml",
      want: [
        'remote.yaml:7:3: DeploymentTarget/remote: missing required field "hostKey"; expected "hostKey" under "ssh", e.g. hostKey: SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
      ],
    },
    {
      name: "unknown kind and apiVersion",
      file: "apiVersion: berth.dev/v1\nkind: Servce\nmetadata:\n  name: web\n",
      as: "typo.yaml",
      want: [
        "typo.yaml:1:13: document 1: unknown apiVersion \"berth.dev/v1\"; expected one of berth.dev/v1alpha1, berth.dev/v1beta1, e.g. apiVersion: berth.dev/v1beta1",
        "typo.yaml:2:7: document 1: unknown kind \"Servce\" (did you mean Service?); expected one of DeploymentTarget, Project, Environment, Service, e.g. kind: Service",
      ].map((m) => m.replace(/document 1/g, "Servce/web")),
    },
  ])("$name", async ({ file, as, want }: { file: string; as?: string; want: string[] }) => {
    expect((await load({ [as ?? "web.yaml"]: file })).messages).toEqual(want);
  });
});
