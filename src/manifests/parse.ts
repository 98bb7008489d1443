import { LineCounter, isScalar, parseAllDocuments, type Document } from "yaml";
import { ManifestError } from "./errors.ts";
import { API_VERSION, KINDS, isKind, type Kind } from "./kinds.ts";
import type { SchemaValidator } from "./schema-validator.ts";
import { closestMatch } from "./suggest.ts";
import type { Resource } from "./types.ts";
import { createLocator, type Locator } from "./yaml-locator.ts";

/** A schema-valid resource together with the means to point into its source text. */
export interface ParsedResource {
  resource: Resource;
  locate: Locator;
}

/** A document whose kind and name are readable but which failed validation. */
export interface InvalidDocument {
  kind: Kind;
  name: string;
  project?: string;
}

export interface ParsedFile {
  /** Path as shown in messages (relative to the working directory when possible). */
  file: string;
  resources: ParsedResource[];
  errors: ManifestError[];
  /** Known by name, so other resources referring to them are not reported as well. */
  invalid: InvalidDocument[];
}

const SYNTAX_HINT = "valid YAML: consistent indentation, a space after each ':', quotes around values containing ': ' or '#'";

/** Parses one multi-document YAML file and validates each document against its kind's schema. */
export function parseManifestFile(file: string, text: string, validator: SchemaValidator): ParsedFile {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const result: ParsedFile = { file, resources: [], errors: [], invalid: [] };
  // A stray non-document (e.g. only comments) comes back as an empty list.
  const docs = Array.isArray(documents) ? documents : [];
  docs.forEach((doc, index) => parseDocument(doc, index, lineCounter, validator, result));
  return result;
}

function parseDocument(doc: Document, index: number, lineCounter: LineCounter, validator: SchemaValidator, out: ParsedFile): void {
  const locate = createLocator(doc, lineCounter);
  const fail = (at: { line: number; col: number }, resource: string, problem: string, expected?: string, example?: string) =>
    out.errors.push(new ManifestError({ file: out.file, ...at, resource, problem, expected, example }));

  const label = documentLabel(doc, index);
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const [line, col] = error.linePos?.[0] ? [error.linePos[0].line, error.linePos[0].col] : [1, 1];
      const what = error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      fail({ line, col }, label, `YAML syntax error: ${what}`, SYNTAX_HINT, "name: web");
    }
    rememberInvalid(doc.toJS({ maxAliasCount: 100 }), out);
    return;
  }
  // An empty document, e.g. after a trailing '---', declares nothing.
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return;

  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    fail(locate([]), label, "a manifest document must be a mapping", "apiVersion, kind, metadata and spec", `{apiVersion: ${API_VERSION}, kind: Service, metadata: {name: web}, spec: {project: shop, image: "nginx:1.27"}}`);
    return;
  }
  const fields = data as Record<string, unknown>;
  if (fields.apiVersion !== API_VERSION) {
    const problem = fields.apiVersion === undefined ? `missing "apiVersion"` : `unknown apiVersion ${JSON.stringify(fields.apiVersion)}`;
    fail(locate(["apiVersion"], "value"), label, problem, API_VERSION, `apiVersion: ${API_VERSION}`);
  }
  if (!isKind(fields.kind)) {
    const guess = typeof fields.kind === "string" ? closestMatch(fields.kind, KINDS) : undefined;
    const problem = fields.kind === undefined ? `missing "kind"` : `unknown kind ${JSON.stringify(fields.kind)}${guess ? ` (did you mean ${guess}?)` : ""}`;
    fail(locate(["kind"], "value"), label, problem, `one of ${KINDS.join(", ")}`, `kind: ${guess ?? "Service"}`);
    return;
  }
  if (fields.apiVersion !== API_VERSION) return;

  const issues = validator.validate(fields.kind, fields);
  for (const issue of issues) fail(locate(issue.path, issue.target), label, issue.problem, issue.expected, issue.example);
  if (issues.length > 0) {
    rememberInvalid(fields, out);
    return;
  }

  const resource = fields as unknown as Resource;
  resource.source = { file: out.file, ...locate([]) };
  out.resources.push({ resource, locate });
}

/** Records the identity of a document that failed, when it can be read at all. */
function rememberInvalid(data: unknown, out: ParsedFile): void {
  const fields = (data ?? {}) as { kind?: unknown; metadata?: { name?: unknown }; spec?: { project?: unknown } };
  const name = fields.metadata?.name;
  const project = fields.spec?.project;
  if (!isKind(fields.kind) || typeof name !== "string") return;
  out.invalid.push({ kind: fields.kind, name, ...(typeof project === "string" ? { project } : {}) });
}

/** `Kind/name` when the document says so, else its position in the file. */
function documentLabel(doc: Document, index: number): string {
  const kind = doc.get("kind");
  const name = doc.getIn(["metadata", "name"]);
  if (typeof kind === "string" && typeof name === "string") return `${kind}/${name}`;
  if (typeof kind === "string") return `${kind} (document ${index + 1})`;
  return `document ${index + 1}`;
}
