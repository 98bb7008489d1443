import { extname } from "node:path";
import { isMap, isScalar, isSeq, parseDocument, type Document, type Node } from "yaml";
import { SopsError, type Scalar } from "./sops-cipher.ts";

export type SopsFormat = "dotenv" | "yaml" | "json";

/** The format SOPS would pick for a file name: YAML and JSON by extension, dotenv otherwise. */
export function formatOf(path: string): SopsFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".yaml" || ext === ".yml") return "yaml";
  if (ext === ".json") return "json";
  return "dotenv";
}

/** One value of the tree with the keys that lead to it (list items keep their parent's path, as in SOPS). */
export interface Leaf {
  path: string[];
  value: Scalar;
  set(value: Scalar): void;
}

/** A parsed file: its values in document order, its `sops` metadata if any, and a way to write it back. */
export interface SopsTree {
  format: SopsFormat;
  leaves: Leaf[];
  metadata?: Record<string, unknown>;
  /** Top-level names and values, for use as an environment (call after decryption). */
  entries(): [string, Scalar | null | object][];
  emit(metadata?: Record<string, unknown>): string;
}

/** A leaf whose `set` changes both the leaf and the document it came from. */
function leaf(path: string[], value: Scalar, write: (value: Scalar) => void): Leaf {
  const it: Leaf = { path, value, set: (v) => void write((it.value = v)) };
  return it;
}

export function parseTree(text: string, format: SopsFormat): SopsTree {
  return format === "dotenv" ? parseDotenv(text) : parseStructured(text, format);
}

/** SOPS' dotenv: `KEY=value` lines taken literally (no quotes), `\n` for a line break, `sops_…` lines for metadata. */
function parseDotenv(text: string): SopsTree {
  const items: { key: string; value: Scalar }[] = [];
  const flat: [string, string][] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    if (at < 0) throw new SopsError(`line "${line.slice(0, 40)}" has no "="; expected KEY=value lines`);
    const key = line.slice(0, at);
    const value = line.slice(at + 1).replaceAll("\\n", "\n");
    if (key.startsWith("sops_")) flat.push([key.slice("sops_".length), value]);
    else items.push({ key, value });
  }
  const leaves = items.map((item) => leaf([item.key], item.value, (v) => (item.value = v)));
  return {
    format: "dotenv",
    leaves,
    metadata: flat.length ? unflatten(flat) : undefined,
    entries: () => items.map((item) => [item.key, item.value]),
    emit(metadata) {
      const lines = items.map((item) => `${item.key}=${escapeLine(String(item.value))}`);
      for (const [key, value] of flatten(metadata ?? {}, "sops")) lines.push(`${key}=${escapeLine(value)}`);
      return `${lines.join("\n")}\n`;
    },
  };
}

const escapeLine = (value: string) => value.replaceAll("\n", "\\n");

/** `age__list_0__map_enc` → `{ age: [{ enc }] }`: how SOPS flattens its metadata into dotenv keys. */
function unflatten(flat: [string, string][]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of flat) {
    const [first, ...rest] = key.split("__");
    const steps: (string | number)[] = [first!, ...rest.map((s) => (s.startsWith("list_") ? Number(s.slice(5)) : s.slice("map_".length)))];
    let node: Record<string | number, unknown> = root;
    steps.forEach((step, i) => {
      if (i === steps.length - 1) node[step] = value;
      else node = (node[step] ??= typeof steps[i + 1] === "number" ? [] : {}) as Record<string | number, unknown>;
    });
  }
  return root;
}

function flatten(value: unknown, prefix: string): [string, string][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => flatten(v, `${prefix}__list_${i}`));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix === "sops" ? `sops_${k}` : `${prefix}__map_${k}`));
  return [[prefix, String(value)]];
}

function parseStructured(text: string, format: "yaml" | "json"): SopsTree {
  // JSON is YAML too; the YAML parser keeps key order, which the MAC depends on (JSON.parse moves numeric keys first).
  const doc: Document = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new SopsError(`not valid ${format.toUpperCase()}: ${doc.errors[0]!.message}`);
  if (!isMap(doc.contents)) throw new SopsError(`the top level is not a map; expected names and values`);
  const root = doc.contents;
  const sopsPair = root.items.find((pair) => isScalar(pair.key) && pair.key.value === "sops");
  const leaves: Leaf[] = [];
  const walk = (node: Node | null | undefined, path: string[]) => {
    if (isMap(node)) for (const pair of node.items) walk(pair.value as Node, [...path, String(isScalar(pair.key) ? pair.key.value : pair.key)]);
    else if (isSeq(node)) for (const item of node.items) walk(item as Node, path);
    else if (isScalar(node) && node.value !== null && node.value !== undefined) {
      const scalar = node;
      leaves.push(leaf(path, scalar.value as Scalar, (v) => (scalar.value = v)));
    }
  };
  for (const pair of root.items) if (pair !== sopsPair) walk(pair.value as Node, [String(isScalar(pair.key) ? pair.key.value : pair.key)]);
  return {
    format,
    leaves,
    metadata: sopsPair ? ((sopsPair.value as Node | null)?.toJSON() as Record<string, unknown>) : undefined,
    entries: () => root.items.filter((p) => p !== sopsPair).map((p) => [String(isScalar(p.key) ? p.key.value : p.key), isScalar(p.value) ? (p.value.value as Scalar | null) : ((p.value as Node | null)?.toJSON() ?? null)]),
    emit(metadata) {
      if (sopsPair) root.delete("sops");
      if (metadata) {
        const node = doc.createNode(metadata);
        // Quoted as SOPS writes it: unquoted, YAML 1.1 readers (SOPS' own) take it for a timestamp.
        const stamp = isMap(node) ? node.get("lastmodified", true) : undefined;
        if (isScalar(stamp)) stamp.type = "QUOTE_DOUBLE";
        root.set("sops", node);
      }
      return format === "json" ? `${jsonOf(root, "")}\n` : doc.toString({ lineWidth: 0 });
    },
  };
}

/** JSON in document order: JSON.stringify would move numeric keys first, and the MAC follows the order. */
function jsonOf(node: unknown, indent: string): string {
  const inner = `${indent}\t`;
  if (isMap(node)) {
    const items = node.items.map((pair) => `${inner}${JSON.stringify(String(isScalar(pair.key) ? pair.key.value : pair.key))}: ${jsonOf(pair.value, inner)}`);
    return items.length ? `{\n${items.join(",\n")}\n${indent}}` : "{}";
  }
  if (isSeq(node)) return node.items.length ? `[\n${node.items.map((item) => `${inner}${jsonOf(item, inner)}`).join(",\n")}\n${indent}]` : "[]";
  return JSON.stringify(isScalar(node) ? (node.value ?? null) : null);
}
