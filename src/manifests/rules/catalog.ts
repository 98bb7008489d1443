import { ManifestError, type ManifestProblem } from "../errors.ts";
import { KINDS, resourceRef, type Kind } from "../kinds.ts";
import type { InvalidDocument, ParsedResource } from "../parse.ts";
import type { Resource } from "../types.ts";
import type { FieldPath } from "../yaml-locator.ts";
import { ManifestWarning } from "./warning.ts";

export type Parsed<K extends Kind> = ParsedResource & { resource: Resource<K> };

/** Resources indexed by kind and name; the first declaration of a name wins. */
export interface Catalog {
  byKind: { [K in Kind]: Map<string, Parsed<K>> };
  /** Documents that failed validation but whose kind and name are known; they count as declared. */
  invalid: readonly InvalidDocument[];
  /**
   * The last good version of every file, when the loader has one: a rule whose problem
   * involves several resources blames the one whose edit introduced it, so that the loader
   * holds back that edit rather than a file nobody touched.
   */
  previous?: Catalog;
}

/**
 * Indexes resources and reports names declared twice for the same kind. The first
 * declaration wins, unless only a later one is where the previous state declared it.
 */
export function buildCatalog(
  resources: readonly ParsedResource[],
  invalid: readonly InvalidDocument[] = [],
  previous?: Catalog,
): { catalog: Catalog; errors: ManifestError[] } {
  const byKind = Object.fromEntries(KINDS.map((kind) => [kind, new Map()])) as Catalog["byKind"];
  const errors: ManifestError[] = [];
  for (const parsed of resources) {
    const { kind, metadata } = parsed.resource;
    const index = byKind[kind] as Map<string, ParsedResource>;
    const declared = index.get(metadata.name);
    if (declared) {
      // The declaration that was in force keeps the name, wherever its file sorts: the new one is the edit to hold back.
      const [first, again] = isIncumbent(previous, parsed) && !isIncumbent(previous, declared) ? [parsed, declared] : [declared, parsed];
      index.set(metadata.name, first);
      const where = `${first.resource.source.file}:${first.resource.source.line}:${first.resource.source.col}`;
      errors.push(
        problemAt(again, ["metadata", "name"], `duplicate name: ${resourceRef(kind, metadata.name)} is already declared at ${where}`, {
          expected: `a name unique among ${kind} resources`,
          example: `name: ${metadata.name}-2`,
        }),
      );
      continue;
    }
    index.set(metadata.name, parsed);
  }
  return { catalog: previous ? { byKind, invalid, previous } : { byKind, invalid }, errors };
}

/** Whether the last good state declared this resource's kind and name in the same file. */
function isIncumbent(previous: Catalog | undefined, parsed: ParsedResource): boolean {
  const { kind, metadata, source } = parsed.resource;
  return (previous?.byKind[kind] as Map<string, ParsedResource> | undefined)?.get(metadata.name)?.resource.source.file === source.file;
}

// Rules ask the same questions for every resource; answers are computed once per catalog.
const servicesByProject = new WeakMap<Catalog, Map<string, Parsed<"Service">[]>>();
const namesByScope = new WeakMap<Catalog, Map<string, string[]>>();

/** Services of a project, in declaration order. */
export function servicesOf(catalog: Catalog, project: string): Parsed<"Service">[] {
  let index = servicesByProject.get(catalog);
  if (!index) {
    index = new Map();
    for (const service of catalog.byKind.Service.values()) {
      const list = index.get(service.resource.spec.project) ?? [];
      list.push(service);
      index.set(service.resource.spec.project, list);
    }
    servicesByProject.set(catalog, index);
  }
  return index.get(project) ?? [];
}

/** Names declared for a kind, valid or not, optionally only those of one project. */
export function declaredNames(catalog: Catalog, kind: Kind, project?: string): string[] {
  const cache = namesByScope.get(catalog) ?? new Map<string, string[]>();
  namesByScope.set(catalog, cache);
  const key = `${kind}\0${project ?? ""}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const inScope = (p: string | undefined) => project === undefined || p === project;
  const valid = [...catalog.byKind[kind].values()]
    .filter((p) => inScope((p.resource.spec as { project?: string }).project))
    .map((p) => p.resource.metadata.name);
  const invalid = catalog.invalid.filter((d) => d.kind === kind && inScope(d.project)).map((d) => d.name);
  const names = [...new Set([...valid, ...invalid])];
  cache.set(key, names);
  return names;
}

type Hint = { expected?: string; example?: string; target?: "key" | "value" };

/** Where a field of a resource is written, with what to say about it. */
function locatedProblem(parsed: ParsedResource, path: FieldPath, problem: string, hint: Hint): ManifestProblem {
  const { kind, metadata, source } = parsed.resource;
  const position = parsed.locate(path, hint.target ?? "value");
  return { file: source.file, ...position, resource: resourceRef(kind, metadata.name), problem, expected: hint.expected, example: hint.example };
}

/** Builds an error that points at a field of a resource. */
export function problemAt(parsed: ParsedResource, path: FieldPath, problem: string, hint: Hint = {}): ManifestError {
  return new ManifestError(locatedProblem(parsed, path, problem, hint));
}

/** Builds a warning that points at a field of a resource. */
export function warningAt(parsed: ParsedResource, path: FieldPath, problem: string, hint: Hint = {}): ManifestWarning {
  return new ManifestWarning(locatedProblem(parsed, path, problem, hint));
}

/** A rule inspects the whole catalog and returns every problem it finds. */
export type Rule = (catalog: Catalog) => ManifestError[];

/** A warning rule finds what is allowed but probably not meant; it never rejects anything. */
export type WarningRule = (catalog: Catalog) => ManifestWarning[];
