import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../package-root.ts";
import { parse } from "yaml";
import { KINDS, type Kind } from "./kinds.ts";
import { V1ALPHA1, type ApiVersion } from "./versions.ts";

/** A JSON Schema (draft-07) as plain data. */
export type JsonSchema = { [key: string]: unknown };

/** Directory holding the CustomResourceDefinitions shipped with Berth. */
export const CRD_DIR = join(packageRoot(), "crds");

const DNS_LABEL_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

export class CrdError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CrdError";
  }
}

/** Reads `crds/<kind>.yaml` and returns its openAPIV3Schema for `apiVersion` (one the CRD serves). */
export function readCrdSchema(kind: Kind, dir = CRD_DIR, apiVersion: ApiVersion = V1ALPHA1, text?: string): JsonSchema {
  const file = `${dir}/${kind.toLowerCase()}.yaml`;
  let crd: any;
  try {
    crd = parse(text ?? readFileSync(file, "utf8"));
  } catch (error) {
    throw new CrdError(`cannot read the CRD of ${kind} from ${file}`, { cause: error });
  }
  const [group, version] = apiVersion.split("/");
  if (crd?.kind !== "CustomResourceDefinition" || crd.spec?.group !== group || crd.spec?.names?.kind !== kind) {
    throw new CrdError(`${file} is not the CustomResourceDefinition of ${apiVersion} ${kind}`);
  }
  const served = (crd.spec.versions ?? []).find((v: any) => v.name === version && v.served);
  const schema = served?.schema?.openAPIV3Schema;
  if (!schema) throw new CrdError(`${file} has no openAPIV3Schema for version ${version}`);
  return schema as JsonSchema;
}

/**
 * Turns a CRD's openAPIV3Schema into a plain JSON Schema for one manifest document.
 * Unknown fields are rejected (Kubernetes would silently prune them; an operator
 * would rather hear about a typo), and apiVersion, kind and metadata get their
 * exact shapes.
 */
export function toJsonSchema(kind: Kind, openApi: JsonSchema, apiVersion: ApiVersion = V1ALPHA1): JsonSchema {
  const converted = convertNode(openApi) as JsonSchema;
  const properties = { ...(converted.properties as Record<string, JsonSchema>) };
  properties.apiVersion = { type: "string", const: apiVersion, examples: [apiVersion] };
  properties.kind = { type: "string", const: kind, examples: [kind] };
  properties.metadata = {
    type: "object",
    required: ["name"],
    additionalProperties: false,
    examples: [{ name: "web" }],
    properties: {
      name: { type: "string", pattern: DNS_LABEL_PATTERN, maxLength: 63, examples: ["web"] },
      labels: { type: "object", additionalProperties: { type: "string" }, examples: [{ team: "payments" }] },
      annotations: { type: "object", additionalProperties: { type: "string" }, examples: [{ owner: "ops@example.com" }] },
    },
  };
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: `https://berth.dev/schemas/${apiVersion}/${kind.toLowerCase()}.json`,
    title: `${kind} (${apiVersion})`,
    ...converted,
    properties,
  };
}

function convertNode(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convertNode);
  if (node === null || typeof node !== "object") return node;
  const source = node as JsonSchema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(source)) {
    if (key.startsWith("x-kubernetes-") || key === "nullable") continue;
    if (key === "example") out.examples = [value];
    else if (key === "properties") out.properties = mapValues(value as Record<string, unknown>, convertNode);
    else out[key] = convertNode(value);
  }
  if (source["x-kubernetes-int-or-string"] === true) {
    delete out.type;
    out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (source.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  const preserve = source["x-kubernetes-preserve-unknown-fields"] === true;
  if (out.properties && out.additionalProperties === undefined && !preserve) out.additionalProperties = false;
  return out;
}

function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}

/**
 * The JSON Schema of every kind as shipped in crds/json (generated from the
 * CRDs by `npm run crds:json`; a unit test keeps them equal): reading JSON
 * spares every command that validates from parsing the CRDs' YAML.
 */
export function readJsonSchemas(dir = join(CRD_DIR, "json"), apiVersion: ApiVersion = V1ALPHA1): Record<Kind, JsonSchema> {
  return Object.fromEntries(
    KINDS.map((kind) => {
      const file = join(dir, jsonSchemaFile(kind, apiVersion));
      try {
        return [kind, JSON.parse(readFileSync(file, "utf8")) as JsonSchema];
      } catch (error) {
        throw new CrdError(`cannot read the JSON Schema of ${kind} from ${file}; expected the package installed whole, or npm run crds:json in a checkout`, { cause: error });
      }
    }),
  ) as Record<Kind, JsonSchema>;
}

/** File name of a kind's JSON Schema in crds/json: v1alpha1's keep their first names (editors' modelines point at them). */
export function jsonSchemaFile(kind: Kind, apiVersion: ApiVersion): string {
  return apiVersion === V1ALPHA1 ? `${kind.toLowerCase()}.schema.json` : `${kind.toLowerCase()}.${apiVersion.split("/")[1]}.schema.json`;
}

/** The JSON Schema of every kind, read from the CRDs. */
export function loadJsonSchemas(dir = CRD_DIR, apiVersion: ApiVersion = V1ALPHA1): Record<Kind, JsonSchema> {
  return Object.fromEntries(KINDS.map((kind) => [kind, toJsonSchema(kind, readCrdSchema(kind, dir, apiVersion), apiVersion)])) as Record<
    Kind,
    JsonSchema
  >;
}
