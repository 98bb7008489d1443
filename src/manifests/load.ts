import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { compareProblems, type ManifestError } from "./errors.ts";
import { displayPath, listManifestFiles } from "./files.ts";
import { readGitRevision, type GitRevision } from "./git.ts";
import { KINDS } from "./kinds.ts";
import { parseManifestFile, unreadableFile, type ParsedFile, type ParsedResource } from "./parse.ts";
import { buildCatalog, checkRules, checkWarnings, type ManifestWarning } from "./rules/index.ts";
import { SchemaValidator } from "./schema-validator.ts";
import type { Resource } from "./types.ts";

/**
 * valid: the file's current content is in force.
 * stale: the file is invalid; the resources of its last valid version stay in force.
 * invalid: the file is invalid and was never valid since the loader started; its documents
 *          that passed their schema are in force (so the rest of the directory can be checked
 *          against them), the others are not.
 */
export type FileState = "valid" | "stale" | "invalid";

export interface FileStatus {
  file: string;
  sha256: string;
  state: FileState;
  resources: number;
}

/** The desired state read from a manifests directory at one moment. */
export interface DesiredState {
  dir: string;
  /** Resources in force, ordered by kind then name. */
  resources: Resource[];
  errors: ManifestError[];
  /** What is allowed but probably not meant, about the resources in force; never affects `complete` or file states. Always set by the loader. */
  warnings?: ManifestWarning[];
  /** Files written in a deprecated apiVersion, one each (at its first such document); told apart from warnings about meaning. */
  deprecations?: ManifestWarning[];
  files: FileStatus[];
  /** Hash of every file's path and content: equal hashes mean identical input. */
  contentHash: string;
  revision?: GitRevision;
  /** No errors: every file's current content is in force. Pruning is only safe then. */
  complete: boolean;
  loadedAt: Date;
}

interface ReadFile {
  path: string;
  sha256: string;
  parsed: ParsedFile;
}

/**
 * Loads a manifests directory again and again, remembering each file's last
 * valid resources so that a broken edit never takes them out of force.
 */
export class ManifestLoader {
  readonly dir: string;
  private readonly validator: SchemaValidator;
  private readonly lastGood = new Map<string, ParsedResource[]>();
  private parseCache = new Map<string, ParsedFile>();
  private readonly revision: () => Promise<GitRevision | undefined>;

  /** `revision`: where the commit comes from when the directory is not a git work tree itself (a git source's snapshot). */
  constructor(dir: string, options: { validator?: SchemaValidator; revision?: () => GitRevision | undefined } = {}) {
    this.dir = resolve(dir);
    this.validator = options.validator ?? new SchemaValidator();
    const given = options.revision;
    this.revision = given ? async () => given() : () => readGitRevision(this.dir);
  }

  /** Reads, validates and resolves the whole directory. */
  async load(): Promise<DesiredState> {
    const paths = await listManifestFiles(this.dir);
    const files = await Promise.all(paths.map((path) => this.readOne(path)));
    this.parseCache = new Map(files.map((f) => [`${f.path}\0${f.sha256}`, f.parsed]));

    const invalid = new Set(files.filter((f) => f.parsed.errors.length > 0).map((f) => f.path));
    const errors = new Map<string, ManifestError>();
    for (const f of files) for (const e of f.parsed.errors) errors.set(e.message, e);

    const byDisplay = new Map(files.map((f) => [f.parsed.file, f.path]));
    // What every file last was when valid: rules blame the edit that broke them, not a file left alone.
    const previous = this.lastGood.size > 0 ? buildCatalog([...this.lastGood.values()].flat()).catalog : undefined;
    let declared: ParsedResource[] = [];
    let warnings: ManifestWarning[] = [];
    // A cross-resource error sends its file back to its last good version; that
    // can expose errors elsewhere, so repeat until no file changes its mind.
    for (let round = 0; round <= files.length; round++) {
      const inForce = files.flatMap((f) => (invalid.has(f.path) ? (this.lastGood.get(f.path) ?? f.parsed.resources) : f.parsed.resources));
      const { catalog, errors: duplicates } = buildCatalog(inForce, files.flatMap((f) => f.parsed.invalid), previous);
      // A name declared twice counts once: the first declaration, as the rules saw it.
      declared = Object.values(catalog.byKind).flatMap((index) => [...index.values()]);
      const crossErrors = [...duplicates, ...checkRules(catalog)];
      warnings = checkWarnings(catalog);
      for (const e of crossErrors) errors.set(e.message, e);
      const fallBack = crossErrors
        .map((e) => byDisplay.get(e.file))
        .filter((path): path is string => !!path && !invalid.has(path) && this.lastGood.has(path));
      if (fallBack.length === 0) break;
      for (const path of fallBack) invalid.add(path);
    }

    // Only a file without any error becomes the new "last good" version.
    const erroneous = new Set([...errors.values()].map((e) => byDisplay.get(e.file)));
    for (const f of files) if (!erroneous.has(f.path)) this.lastGood.set(f.path, f.parsed.resources);
    for (const path of [...this.lastGood.keys()]) if (!paths.includes(path)) this.lastGood.delete(path);

    const statuses: FileStatus[] = files.map((f) => {
      const state: FileState = !erroneous.has(f.path) ? "valid" : this.lastGood.has(f.path) ? "stale" : "invalid";
      const count = (state === "stale" ? this.lastGood.get(f.path)! : f.parsed.resources).length;
      return { file: f.parsed.file, sha256: f.sha256, state, resources: count };
    });
    const sortedErrors = [...errors.values()].sort(compareProblems);
    return {
      dir: this.dir,
      resources: sortResources(declared.map((p) => p.resource)),
      errors: sortedErrors,
      warnings: warnings.sort(compareProblems),
      deprecations: files.flatMap((f) => f.parsed.deprecations ?? []).sort(compareProblems),
      files: statuses,
      contentHash: hashFiles(files.map((f) => [f.parsed.file, f.sha256])),
      revision: await this.revision(),
      complete: sortedErrors.length === 0,
      loadedAt: new Date(),
    };
  }

  private async readOne(path: string): Promise<ReadFile> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      // An unreadable file is an error of that file alone; the hash tells one failure from another.
      const sha256 = createHash("sha256").update(`unreadable\0${(error as NodeJS.ErrnoException).code ?? String(error)}`).digest("hex");
      return { path, sha256, parsed: unreadableFile(displayPath(path), error) };
    }
    const sha256 = createHash("sha256").update(text).digest("hex");
    const cached = this.parseCache.get(`${path}\0${sha256}`);
    return { path, sha256, parsed: cached ?? parseManifestFile(displayPath(path), text, this.validator) };
  }
}

function hashFiles(entries: [string, string][]): string {
  const hash = createHash("sha256");
  for (const [file, sha] of entries.sort(([a], [b]) => a.localeCompare(b))) hash.update(`${file}\0${sha}\n`);
  return hash.digest("hex");
}

function sortResources(resources: Resource[]): Resource[] {
  return [...resources].sort(
    (a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || a.metadata.name.localeCompare(b.metadata.name),
  );
}

/** One-shot load of a directory, as `berth validate` does it. */
export function loadManifests(dir: string, options?: ConstructorParameters<typeof ManifestLoader>[1]): Promise<DesiredState> {
  return new ManifestLoader(dir, options).load();
}
