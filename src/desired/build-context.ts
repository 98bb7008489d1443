import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { SpecError } from "./env.ts";
import { canonicalJson } from "./hash.ts";

export interface BuildContext {
  dir: string;
  /** Paths relative to dir, sorted: what is sent to the engine. */
  files: string[];
  /** Hash of every file's path, mode and content plus the build options. */
  hash: string;
}

/** Lists and hashes a build context so that the image tag changes exactly when its input does. */
export function readBuildContext(dir: string, options: Record<string, unknown>): BuildContext {
  try {
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
    const files: string[] = [];
    const walk = (current: string) => {
      for (const entry of readdirSync(current, { withFileTypes: true })) {
        if (entry.name === ".git") continue;
        const path = join(current, entry.name);
        // Links are followed, as the build sends what they point at.
        if (entry.isDirectory() || (entry.isSymbolicLink() && statSync(path).isDirectory())) walk(path);
        else files.push(relative(dir, path));
      }
    };
    walk(dir);
    files.sort();
    const hash = createHash("sha256").update(canonicalJson(options));
    for (const file of files) {
      const path = join(dir, file);
      hash.update(`${file}\0${(statSync(path).mode & 0o7777).toString(8)}\0`).update(readFileSync(path)).update("\0");
    }
    return { dir, files, hash: hash.digest("hex") };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new SpecError(`build context ${dir} cannot be read (${why}); expected a readable folder holding a Dockerfile`, { cause: error });
  }
}
