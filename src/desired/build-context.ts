import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { SpecError } from "./env.ts";

export interface BuildContext {
  dir: string;
  /** Paths relative to dir, sorted: what is sent to the engine. */
  files: string[];
  /** Hash of every file's path and content plus the build options. */
  hash: string;
}

/** Lists and hashes a build context so that the image tag changes exactly when its input does. */
export function readBuildContext(dir: string, options: Record<string, unknown>): BuildContext {
  try {
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
  } catch (error) {
    throw new SpecError(`build context ${dir} is not a directory; expected a folder holding a Dockerfile`, { cause: error });
  }
  const files: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (entry.name === ".git") continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(relative(dir, path));
    }
  };
  walk(dir);
  files.sort();
  const hash = createHash("sha256").update(JSON.stringify(options));
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(dir, file))).update("\0");
  return { dir, files, hash: hash.digest("hex") };
}
