import { readdir } from "node:fs/promises";
import { isAbsolute, join, relative } from "node:path";

/** True for a file name the loader reads: YAML, not hidden, not an editor's temporary copy. */
export function isManifestFileName(name: string): boolean {
  return /\.ya?ml$/.test(name) && !name.startsWith(".") && !name.startsWith("#");
}

/** True for a path segment the loader never descends into (dot directories, node_modules). */
export function isIgnoredDirectory(name: string): boolean {
  return name.startsWith(".") || name === "node_modules";
}

/** True when any segment of `path` (relative to the watched root) is ignored. */
export function isIgnoredPath(root: string, path: string): boolean {
  const rel = relative(root, path);
  if (!rel) return false;
  const segments = rel.split(/[\\/]/);
  return segments.slice(0, -1).some(isIgnoredDirectory) || segments.at(-1)!.startsWith(".");
}

/** Absolute paths of every manifest file under `root`, sorted. */
export async function listManifestFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const path = join(dir, entry.name);
        if (entry.isDirectory() && !isIgnoredDirectory(entry.name)) await walk(path);
        else if ((entry.isFile() || entry.isSymbolicLink()) && isManifestFileName(entry.name)) found.push(path);
      }),
    );
  };
  await walk(root);
  return found.sort();
}

/** A path as shown to operators: relative to the working directory when below it. */
export function displayPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

