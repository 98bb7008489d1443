/**
 * The manifest API's versions and how they convert. v1beta1 names every
 * enumerated value the same way (CamelCase, as imagePullPolicy always did);
 * nothing else differs, so a field sits at the same place in both and an
 * error's location holds for either. Berth reconciles the v1alpha1 form (the
 * hub); v1beta1 documents are converted to it once validated.
 */
import type { Document, Scalar } from "yaml";
import { isMap, isScalar, isSeq } from "yaml";
import type { Kind } from "./kinds.ts";

export const V1ALPHA1 = "berth.dev/v1alpha1";
export const V1BETA1 = "berth.dev/v1beta1";
export const API_VERSIONS = [V1ALPHA1, V1BETA1] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];
/** What new manifests should say; v1alpha1 is still served, with a deprecation warning. */
export const PREFERRED_API_VERSION: ApiVersion = V1BETA1;

export function isApiVersion(value: unknown): value is ApiVersion {
  return (API_VERSIONS as readonly unknown[]).includes(value);
}

/** A field whose values v1beta1 renames: its path from the document root (`*`: every item of a list). */
export interface Renamed {
  path: readonly string[];
  /** v1alpha1 value -> v1beta1 value. */
  values: Readonly<Record<string, string>>;
}

export const RENAMED: Readonly<Record<Kind, readonly Renamed[]>> = {
  Service: [
    { path: ["spec", "restartPolicy"], values: { no: "Never", always: "Always", "on-failure": "OnFailure", "unless-stopped": "UnlessStopped" } },
    { path: ["spec", "dependsOn", "*", "condition"], values: { service_started: "Started", service_healthy: "Healthy", service_completed_successfully: "Completed" } },
    { path: ["spec", "update", "strategy"], values: { rolling: "Rolling", recreate: "Recreate" } },
  ],
  Environment: [{ path: ["spec", "tier"], values: { development: "Development", staging: "Staging", production: "Production", other: "Other" } }],
  Project: [],
  DeploymentTarget: [],
};

const inverse = (values: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(values).map(([a, b]) => [b, a]));

/** Calls `rename` on every value found at `path` in plain data, replacing it with what it returns. */
function eachValue(data: unknown, path: readonly string[], rename: (value: unknown) => unknown): void {
  if (data === null || typeof data !== "object") return;
  const [head, ...rest] = path;
  if (head === "*") {
    if (Array.isArray(data)) for (const item of data) eachValue(item, rest, rename);
    return;
  }
  const record = data as Record<string, unknown>;
  if (!(head! in record)) return;
  if (rest.length === 0) record[head!] = rename(record[head!]);
  else eachValue(record[head!], rest, rename);
}

/**
 * Converts a document's plain data between versions, in place: only the
 * renamed values change (an unknown value is left for validation to name).
 */
export function convertData(kind: Kind, data: Record<string, unknown>, to: ApiVersion): Record<string, unknown> {
  if (data.apiVersion === to) return data;
  for (const field of RENAMED[kind]) {
    const names = to === V1BETA1 ? field.values : inverse(field.values);
    eachValue(data, field.path, (value) => (typeof value === "string" && value in names ? names[value] : value));
  }
  data.apiVersion = to;
  return data;
}

/** One change to a manifest file's text: the characters from `start` to `end` become `text`. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/**
 * The edits that take one YAML document (parsed from the file's text) to
 * another version: the apiVersion and each renamed value, replaced where
 * they are written and quoted as they were, so that comments, key order and
 * formatting stay exactly as they are. None when it already is at `to`.
 */
export function migrationEdits(doc: Document, kind: Kind, to: ApiVersion): TextEdit[] {
  const from = doc.get("apiVersion");
  if (!isApiVersion(from) || from === to) return [];
  const edits: TextEdit[] = [];
  const replace = (scalar: Scalar, value: string) => {
    const [start, end] = scalar.range ?? [];
    if (start === undefined || end === undefined) return;
    const quote = scalar.type === "QUOTE_DOUBLE" ? '"' : scalar.type === "QUOTE_SINGLE" ? "'" : "";
    edits.push({ start, end, text: `${quote}${value}${quote}` });
  };
  const apiVersion = doc.get("apiVersion", true);
  if (isScalar(apiVersion)) replace(apiVersion, to);
  for (const field of RENAMED[kind]) {
    const names = to === V1BETA1 ? field.values : inverse(field.values);
    for (const scalar of scalarsAt(doc.contents, field.path)) if (typeof scalar.value === "string" && scalar.value in names) replace(scalar, names[scalar.value]!);
  }
  return edits;
}

/** Applies edits to a text (they may come in any order; they never overlap). */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  let out = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) out = `${out.slice(0, edit.start)}${edit.text}${out.slice(edit.end)}`;
  return out;
}

function* scalarsAt(node: unknown, path: readonly string[]): Generator<Scalar> {
  if (path.length === 0) {
    if (isScalar(node)) yield node;
    return;
  }
  const [head, ...rest] = path;
  if (head === "*") {
    if (isSeq(node)) for (const item of node.items) yield* scalarsAt(item, rest);
  } else if (isMap(node)) yield* scalarsAt(node.get(head!, true), rest);
}

/**
 * The openAPIV3Schema of `version`, from v1alpha1's: renamed values in each
 * renamed field's enum, default and example, and in the examples above it.
 */
export function schemaOfVersion(kind: Kind, v1alpha1: Record<string, unknown>, version: ApiVersion): Record<string, unknown> {
  const schema = structuredClone(v1alpha1);
  if (version === V1ALPHA1) return schema;
  for (const field of RENAMED[kind]) {
    const rename = (value: unknown) => (typeof value === "string" && value in field.values ? field.values[value] : value);
    let node: Record<string, unknown> | undefined = schema;
    for (let depth = 0; node && depth <= field.path.length; depth++) {
      const below = field.path.slice(depth);
      if (below.length === 0) {
        if (Array.isArray(node.enum)) node.enum = node.enum.map(rename);
        if ("default" in node) node.default = rename(node.default);
        if ("example" in node) node.example = rename(node.example);
        break;
      }
      // An example of an enclosing object shows the field too.
      if (node.example !== undefined) eachValue(node.example, below, rename);
      const step: string = below[0]!;
      node = (step === "*" ? node.items : (node.properties as Record<string, unknown> | undefined)?.[step]) as Record<string, unknown> | undefined;
    }
  }
  return schema;
}
