import { isMap, isScalar, isSeq, parseDocument, type Document, type Node, type Scalar as YamlScalar } from "yaml";
import { NumberText, SopsError, type Scalar } from "./sops-cipher.ts";

export type SopsFormat = "dotenv" | "yaml" | "json";
/** sops' binary format: a JSON document whose one `data` value is the whole file. */
export type SopsStore = SopsFormat | "binary" | "ini";

/** The store sops picks for a file name (suffixes compared case-sensitively, as sops does): binary unless .env/.yaml/.yml/.json/.ini. */
export function storeOf(path: string): SopsStore {
  if (path.endsWith(".yaml") || path.endsWith(".yml")) return "yaml";
  if (path.endsWith(".json")) return "json";
  if (path.endsWith(".env")) return "dotenv";
  if (path.endsWith(".ini")) return "ini";
  return "binary";
}

/**
 * The SOPS format a file's content is in, whatever its name, or undefined for a file without SOPS
 * metadata: sops_… lines (dotenv), a top-level `sops` key in a JSON document (also the binary
 * format) or in a YAML one.
 */
export function sopsFormatIn(text: string): SopsFormat | undefined {
  // Any sops_… name: sops itself takes each for metadata.
  if (/^sops_\w*=/m.test(text)) return "dotenv";
  if (/^\s*\{/.test(text)) {
    try {
      return parseStructured(text, "json").metadata ? "json" : undefined;
    } catch {
      return undefined;
    }
  }
  return /^sops:/m.test(text) ? "yaml" : undefined;
}

/** A file in sops' binary format, ready for encryptTree: one `data` value holding the whole text. */
export function binaryTree(text: string): SopsTree {
  return parseStructured(JSON.stringify({ data: text }), "json");
}

/** The whole plaintext of a decrypted tree in sops' binary format, or undefined for any other tree. */
export function binaryData(tree: SopsTree): string | undefined {
  const entries = tree.entries();
  return tree.format === "json" && entries.length === 1 && entries[0]![0] === "data" && typeof entries[0]![1] === "string" ? entries[0]![1] : undefined;
}

/** One value of the tree with the keys that lead to it (list items keep their parent's path, as in SOPS). */
export interface Leaf {
  path: string[];
  value: Scalar;
  /** 1-based line of a dotenv value, for messages that must not quote it. */
  line?: number;
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
function leaf(path: string[], value: Scalar, write: (value: Scalar) => void, line?: number): Leaf {
  const it: Leaf = { path, value, line, set: (v) => void write((it.value = v)) };
  return it;
}

export function parseTree(text: string, format: SopsFormat): SopsTree {
  return format === "dotenv" ? parseDotenv(text) : parseStructured(text, format);
}

/** SOPS' dotenv: `KEY=value` lines taken literally (no quotes), `\n` for a line break, `sops_…` lines for metadata. */
function parseDotenv(text: string): SopsTree {
  const items: { key: string; value: Scalar; line: number }[] = [];
  const flat: [string, string][] = [];
  text.split("\n").forEach((line, i) => {
    if (line === "" || line.startsWith("#")) return;
    const at = line.indexOf("=");
    // Only the line number: the line may be part of a private key.
    if (at < 0) throw new SopsError(`line ${i + 1} has no "="; expected KEY=value lines (sops' dotenv has no quoting: a value of several lines, such as a PEM key, goes on one line with \\n for each line break)`);
    const key = line.slice(0, at);
    const value = line.slice(at + 1).replaceAll("\\n", "\n");
    if (key.startsWith("sops_")) flat.push([key.slice("sops_".length), value]);
    else items.push({ key, value, line: i + 1 });
  });
  const leaves = items.map((item) => leaf([item.key], item.value, (v) => (item.value = v), item.line));
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
  const leafOf = new Map<unknown, Leaf>();
  const walk = (node: Node | null | undefined, path: string[]) => {
    if (isMap(node)) for (const pair of node.items) walk(pair.value as Node, [...path, String(isScalar(pair.key) ? pair.key.value : pair.key)]);
    else if (isSeq(node)) for (const item of node.items) walk(item as Node, path);
    else if (isScalar(node) && node.value !== null && node.value !== undefined) {
      const scalar = node;
      const it = leaf(path, scalarOf(scalar), (v) => (scalar.value = v instanceof NumberText ? numberOf(v) : v));
      leaves.push(it);
      leafOf.set(scalar, it);
    }
  };
  for (const pair of root.items) if (pair !== sopsPair) walk(pair.value as Node, [String(isScalar(pair.key) ? pair.key.value : pair.key)]);
  return {
    format,
    leaves,
    // Present whenever the key is (even empty): a damaged sops section must not pass for a plain file.
    metadata: sopsPair ? (((sopsPair.value as Node | null)?.toJSON() ?? {}) as Record<string, unknown>) : undefined,
    entries: () => root.items.filter((p) => p !== sopsPair).map((p) => [String(isScalar(p.key) ? p.key.value : p.key), isScalar(p.value) ? (leafOf.get(p.value)?.value ?? null) : ((p.value as Node | null)?.toJSON() ?? null)]),
    emit(metadata) {
      if (sopsPair) root.delete("sops");
      if (metadata) {
        const node = doc.createNode(metadata);
        // Quoted as SOPS writes it: unquoted, YAML 1.1 readers (SOPS' own) take it for a timestamp.
        const stamp = isMap(node) ? node.get("lastmodified", true) : undefined;
        if (isScalar(stamp)) stamp.type = "QUOTE_DOUBLE";
        root.set("sops", node);
      }
      return format === "json" ? `${jsonOf(root, "", leafOf)}\n` : doc.toString({ lineWidth: 0 });
    },
  };
}

/** JSON in document order: JSON.stringify would move numeric keys first, and the MAC follows the order. */
function jsonOf(node: unknown, indent: string, leafOf: Map<unknown, Leaf>): string {
  const inner = `${indent}\t`;
  if (isMap(node)) {
    const items = node.items.map((pair) => `${inner}${JSON.stringify(String(isScalar(pair.key) ? pair.key.value : pair.key))}: ${jsonOf(pair.value, inner, leafOf)}`);
    return items.length ? `{\n${items.join(",\n")}\n${indent}}` : "{}";
  }
  if (isSeq(node)) return node.items.length ? `[\n${node.items.map((item) => `${inner}${jsonOf(item, inner, leafOf)}`).join(",\n")}\n${indent}]` : "[]";
  const value = leafOf.get(node)?.value;
  // A number as the file (or its decryption) spells it: JSON.stringify would round it through a double.
  if (value instanceof NumberText) return value.text;
  return JSON.stringify(isScalar(node) ? (node.value ?? null) : null);
}

/** A scalar's value for the tree: numbers keep their source text (the YAML parser hands out doubles). */
function scalarOf(node: YamlScalar): Scalar {
  const value = node.value;
  if (typeof value === "number" || typeof value === "bigint") return new NumberText(node.source ?? String(value));
  // Plain 1_000 or 0b101 is text in YAML 1.2 but a number to sops' YAML reader (Go's yaml.v3).
  if (node.type === "PLAIN" && typeof value === "string" && GO_YAML_NUMBER.test(value)) return new NumberText(value);
  return value as Scalar;
}
const GO_YAML_NUMBER = /^[-+]?(0b[01_]+|0o?[0-7_]+|0x[\da-fA-F_]+|\d[\d_]*(\.[\d_]*)?([eE][-+]?\d+)?)$/;

/** A number put back into the YAML document: exact as a bigint when whole, as a double otherwise. */
function numberOf(number: NumberText): bigint | number {
  return /^-?\d+$/.test(number.text) ? BigInt(number.text) : Number(number.text);
}
