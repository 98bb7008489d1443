import { ManifestError } from "../errors.ts";
import { KINDS, resourceRef, type Kind } from "../kinds.ts";
import type { InvalidDocument, ParsedResource } from "../parse.ts";
import type { Resource } from "../types.ts";
import type { FieldPath } from "../yaml-locator.ts";

export type Parsed<K extends Kind> = ParsedResource & { resource: Resource<K> };

/** Resources indexed by kind and name; the first declaration of a name wins. */
export interface Catalog {
  byKind: { [K in Kind]: Map<string, Parsed<K>> };
  /** Documents that failed validation but whose kind and name are known; they count as declared. */
  invalid: readonly InvalidDocument[];
}

/** Indexes resources and reports names declared twice for the same kind. */
export function buildCatalog(
  resources: readonly ParsedResource[],
  invalid: readonly InvalidDocument[] = [],
): { catalog: Catalog; errors: ManifestError[] } {
  const byKind = Object.fromEntries(KINDS.map((kind) => [kind, new Map()])) as Catalog["byKind"];
  const errors: ManifestError[] = [];
  for (const parsed of resources) {
    const { kind, metadata } = parsed.resource;
    const index = byKind[kind] as Map<string, ParsedResource>;
    const first = index.get(metadata.name);
    if (first) {
      const where = `${first.resource.source.file}:${first.resource.source.line}:${first.resource.source.col}`;
      errors.push(
        problemAt(parsed, ["metadata", "name"], `duplicate name: ${resourceRef(kind, metadata.name)} is already declared at ${where}`, {
          expected: `a name unique among ${kind} resources`,
          example: `name: ${metadata.name}-2`,
        }),
      );
      continue;
    }
    index.set(metadata.name, parsed);
  }
  return { catalog: { byKind, invalid }, errors };
}

/** Services of a project, in declaration order. */
export function servicesOf(catalog: Catalog, project: string): Parsed<"Service">[] {
  return [...catalog.byKind.Service.values()].filter((s) => s.resource.spec.project === project);
}

/** Names declared for a kind, valid or not, optionally only those of one project. */
export function declaredNames(catalog: Catalog, kind: Kind, project?: string): string[] {
  const valid = [...catalog.byKind[kind].values()]
    .filter((p) => project === undefined || (p.resource.spec as { project?: string }).project === project)
    .map((p) => p.resource.metadata.name);
  const invalid = catalog.invalid.filter((d) => d.kind === kind && (project === undefined || d.project === project)).map((d) => d.name);
  return [...new Set([...valid, ...invalid])];
}

/** Builds an error that points at a field of a resource. */
export function problemAt(
  parsed: ParsedResource,
  path: FieldPath,
  problem: string,
  hint: { expected?: string; example?: string; target?: "key" | "value" } = {},
): ManifestError {
  const { kind, metadata, source } = parsed.resource;
  const position = parsed.locate(path, hint.target ?? "value");
  return new ManifestError({
    file: source.file,
    ...position,
    resource: resourceRef(kind, metadata.name),
    problem,
    expected: hint.expected,
    example: hint.example,
  });
}

/** A rule inspects the whole catalog and returns every problem it finds. */
export type Rule = (catalog: Catalog) => ManifestError[];
