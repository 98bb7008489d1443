/**
 * `berth migrate`: every manifest file of a directory taken to another
 * apiVersion by editing only the values that change, so that a reviewer's
 * diff shows those and nothing else.
 */
import { readFile, writeFile } from "node:fs/promises";
import { parseAllDocuments } from "yaml";
import { displayPath, listManifestFiles } from "./files.ts";
import { isKind } from "./kinds.ts";
import { applyEdits, migrationEdits, type ApiVersion } from "./versions.ts";

/** A manifest file that cannot be migrated: its YAML does not parse. */
export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

export interface MigratedFile {
  path: string;
  documents: number;
}

/** The text of a manifest file at `to`, and how many of its documents changed. */
export function migrateText(text: string, to: ApiVersion, file = "manifest"): { text: string; documents: number } {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return { text, documents: 0 };
  const broken = docs.find((d) => d.errors.length > 0);
  // A file that does not parse is left alone: berth validate says where it is broken.
  if (broken) throw new MigrationError(`${file}: not migrated, its YAML does not parse (${broken.errors[0]!.message.split("\n")[0]}); expected berth validate to pass first`);
  let documents = 0;
  const edits = docs.flatMap((doc) => {
    const kind = doc.get("kind");
    if (!isKind(kind)) return [];
    const found = migrationEdits(doc, kind, to);
    if (found.length) documents++;
    return found;
  });
  return { text: applyEdits(text, edits), documents };
}

/** Migrates every manifest file under `dir` (written back unless `write` is false); returns the files that change. */
export async function migrateDirectory(dir: string, to: ApiVersion, options: { write: boolean }): Promise<MigratedFile[]> {
  const changed: MigratedFile[] = [];
  for (const path of await listManifestFiles(dir)) {
    const text = await readFile(path, "utf8");
    const migrated = migrateText(text, to, displayPath(path));
    if (migrated.documents === 0) continue;
    if (options.write) await writeFile(path, migrated.text);
    changed.push({ path: displayPath(path), documents: migrated.documents });
  }
  return changed;
}
