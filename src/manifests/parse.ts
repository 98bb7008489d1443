import { Alias, LineCounter, isAlias, isScalar, parseAllDocuments, visit, type Document, type Node } from "yaml";
import { ManifestError } from "./errors.ts";
import { KINDS, isKind, type Kind } from "./kinds.ts";
import { ManifestWarning } from "./rules/warning.ts";
import type { SchemaValidator } from "./schema-validator.ts";
import { closestMatch } from "./suggest.ts";
import type { Resource } from "./types.ts";
import { API_VERSIONS, convertData, isApiVersion, PREFERRED_API_VERSION, V1ALPHA1 } from "./versions.ts";
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
  /** Once per file that uses a deprecated apiVersion, at its first such document. */
  deprecations: ManifestWarning[];
}

const SYNTAX_HINT = "valid YAML: consistent indentation, a space after each ':', quotes around values containing ': ' or '#'";

/**
 * yaml's limit on alias expansion: each use of an anchor counts once for every
 * alias nested in the anchored value. Nested aliases that multiply (an alias
 * bomb) pass it after a few levels, long before they cost time or memory.
 */
const MAX_ALIAS_COUNT = 100;

/** Parses one multi-document YAML file and validates each document against its kind's schema. */
export function parseManifestFile(file: string, text: string, validator: SchemaValidator): ParsedFile {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const result: ParsedFile = { file, resources: [], errors: [], invalid: [], deprecations: [] };
  // A stray non-document (e.g. only comments) comes back as an empty list.
  const docs = Array.isArray(documents) ? documents : [];
  docs.forEach((doc, index) => {
    try {
      parseDocument(doc, index, lineCounter, validator, result);
    } catch (error) {
      // Whatever else a document can throw stays an error of that document, never of the whole load.
      const at = lineCounter.linePos((doc.contents as Node | null)?.range?.[0] ?? doc.range?.[0] ?? 0);
      const what = error instanceof Error ? error.message : String(error);
      result.errors.push(new ManifestError({ file, ...at, resource: documentLabel(doc, index), problem: `cannot read the document: ${what}`, expected: SYNTAX_HINT, example: "name: web" }, { cause: error }));
    }
  });
  return result;
}

/** A listed file whose text cannot be read (a dangling symlink, no permission): one error for the whole file. */
export function unreadableFile(file: string, error: unknown): ParsedFile {
  // Node names the path again at the end ("…, open '/path'"): the location already says it.
  const what = (error instanceof Error ? error.message : String(error)).replace(/, \w+ '[^']*'$/, "");
  const problem = { file, line: 1, col: 1, resource: "file", problem: `cannot read the file: ${what}`, expected: "a YAML file the daemon's user can read, or a symlink to one" };
  return { file, resources: [], errors: [new ManifestError(problem, { cause: error })], invalid: [], deprecations: [] };
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
    rememberInvalid(identityOf(doc), out);
    return;
  }
  // An empty document, e.g. after a trailing '---', declares nothing.
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return;

  const read = readData(doc);
  if ("problem" in read) {
    const at = read.offset === undefined ? locate([]) : lineCounter.linePos(read.offset);
    fail(at, label, read.problem, read.expected, read.example);
    rememberInvalid(identityOf(doc), out);
    return;
  }
  const data = read.data;
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    fail(locate([]), label, "a manifest document must be a mapping", "apiVersion, kind, metadata and spec", `{apiVersion: ${PREFERRED_API_VERSION}, kind: Service, metadata: {name: web}, spec: {project: shop, image: "nginx:1.27"}}`);
    return;
  }
  const fields = data as Record<string, unknown>;
  // A SOPS-encrypted YAML file (secrets kept beside the manifests) is an input of a Service, not a manifest.
  if (isSopsDocument(fields)) return;
  if (!isApiVersion(fields.apiVersion)) {
    const problem = fields.apiVersion === undefined ? `missing "apiVersion"` : `unknown apiVersion ${JSON.stringify(fields.apiVersion)}`;
    fail(locate(["apiVersion"], "value"), label, problem, `one of ${API_VERSIONS.join(", ")}`, `apiVersion: ${PREFERRED_API_VERSION}`);
  }
  if (!isKind(fields.kind)) {
    const guess = typeof fields.kind === "string" ? closestMatch(fields.kind, KINDS) : undefined;
    const problem = fields.kind === undefined ? `missing "kind"` : `unknown kind ${JSON.stringify(fields.kind)}${guess ? ` (did you mean ${guess}?)` : ""}`;
    fail(locate(["kind"], "value"), label, problem, `one of ${KINDS.join(", ")}`, `kind: ${guess ?? "Service"}`);
    return;
  }
  if (!isApiVersion(fields.apiVersion)) return;
  if (fields.apiVersion === V1ALPHA1 && out.deprecations.length === 0) {
    const at = locate(["apiVersion"], "value");
    // Once per file: berth migrate rewrites every document of it at once.
    out.deprecations.push(new ManifestWarning({ file: out.file, ...at, resource: label, problem: `apiVersion ${V1ALPHA1} is deprecated`, expected: `${PREFERRED_API_VERSION}, as berth migrate DIR writes it (keeping comments and formatting)`, example: `apiVersion: ${PREFERRED_API_VERSION}` }));
  }

  const issues = validator.validate(fields.kind, fields, fields.apiVersion);
  for (const issue of issues) fail(locate(issue.path, issue.target), label, issue.problem, issue.expected, issue.example);
  if (issues.length > 0) {
    rememberInvalid(fields, out);
    return;
  }

  // Berth reconciles one form of every resource, whichever version it was written in; positions hold for both.
  const resource = convertData(fields.kind, fields, V1ALPHA1) as unknown as Resource;
  resource.source = { file: out.file, ...locate([]) };
  out.resources.push({ resource, locate });
}

interface AliasProblem {
  /** Where the alias is written, when known. */
  offset?: number;
  problem: string;
  expected: string;
  example: string;
}

/**
 * The document as plain data, or what keeps an alias from being read: one that
 * names no anchor before it, or one that takes the document past MAX_ALIAS_COUNT.
 */
function readData(doc: Document): { data: unknown } | AliasProblem {
  // An alias resolves to the last node anchored with its name before it, in this document only.
  const anchors = new Set<string>();
  const aliases: Alias[] = [];
  let unresolved: Alias | undefined;
  visit(doc, {
    Node: (_key, node) => {
      if (!isAlias(node)) {
        if (node.anchor) anchors.add(node.anchor);
      } else if (anchors.has(node.source)) {
        aliases.push(node);
      } else {
        unresolved = node;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (unresolved) {
    const name = unresolved.source;
    return {
      offset: unresolved.range?.[0],
      problem: `YAML alias *${name} refers to no anchor &${name} before it`,
      expected: `an anchor &${name} on a value earlier in the same document (anchors do not reach across '---'), or the value written out`,
      example: `{base: &${name} web:1, image: *${name}}`,
    };
  }

  // yaml stops an alias bomb with an error that does not say where: note the alias whose resolution failed first.
  let failed: Alias | undefined;
  for (const alias of aliases) {
    alias.resolve = (...args) => {
      try {
        return Alias.prototype.resolve.apply(alias, args);
      } catch (error) {
        failed ??= alias;
        throw error;
      }
    };
  }
  try {
    return { data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown };
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    const name = failed ? `*${failed.source}` : "an alias";
    return {
      offset: failed?.range?.[0],
      problem: /excessive alias count/i.test(error.message)
        ? `YAML alias ${name} brings the document to more than ${MAX_ALIAS_COUNT} aliased values (an alias counts once for each alias in the value it names, so nested aliases multiply, as in an alias bomb)`
        : `YAML alias ${name} cannot be read: ${error.message}`,
      expected: `at most ${MAX_ALIAS_COUNT} aliased values in a document; write repeated values out, or alias only values that hold no aliases`,
      example: "{base: &base {tier: web}, labels: *base}",
    };
  } finally {
    for (const alias of aliases) Reflect.deleteProperty(alias, "resolve");
  }
}

/** Kind, name and project as written, without resolving an alias: enough to know a broken document by name. */
function identityOf(doc: Document): unknown {
  return { kind: doc.get("kind"), metadata: { name: doc.getIn(["metadata", "name"]) }, spec: { project: doc.getIn(["spec", "project"]) } };
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

/** A document sops wrote: a top-level `sops` mapping with its MAC, and no manifest header. */
function isSopsDocument(fields: Record<string, unknown>): boolean {
  const sops = fields.sops as Record<string, unknown> | undefined;
  return fields.apiVersion === undefined && fields.kind === undefined && !!sops && typeof sops === "object" && "mac" in sops;
}

