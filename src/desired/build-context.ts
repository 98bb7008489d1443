import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from "node:fs";
import { join, relative } from "node:path";
import { SpecError } from "./env.ts";
import { canonicalJson } from "./hash.ts";

export interface BuildContext {
  dir: string;
  /** Paths relative to dir, sorted: what is sent to the engine. */
  files: string[];
  /** Hash of every entry's path, mode and content (a link's target text) plus the build options. */
  hash: string;
}

/** What one context may hold: a build context is source code, not a data set. */
export const CONTEXT_LIMITS = { files: 20_000, bytes: 512 * 1024 * 1024 };

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined; // a dangling link: sent as it is
  }
}

/** A special file would block a read (a FIFO) or is not data at all: the build never sends one. */
function special(stats: Stats | undefined): string | undefined {
  if (!stats) return undefined;
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isSocket()) return "a socket";
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return "a device";
  return undefined;
}

/**
 * Lists and hashes a build context so that the image tag changes exactly when
 * its input does. Entries are looked at with lstat: a symlink stays a symlink,
 * as Docker's own context packing keeps it, and is never followed out of the
 * context (its target text is what is hashed and sent). Special files are
 * refused, so nothing here can block on a read.
 */
export function readBuildContext(dir: string, options: Record<string, unknown>, where = ""): BuildContext {
  const at = where ? `${where}: ` : "";
  try {
    if (!lstatSync(dir).isDirectory()) throw new Error("not a directory");
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new SpecError(`${at}build context ${dir} cannot be read (${why}); expected a readable folder holding a Dockerfile`, { cause: error });
  }
  const entries = new Map<string, { link?: string; mode: string }>();
  let bytes = 0;
  const walk = (current: string) => {
    for (const entry of readdirSync(current)) {
      if (entry === ".git") continue;
      const path = join(current, entry);
      const name = relative(dir, path);
      const stats = lstatSync(path);
      const kind = special(stats);
      if (kind) throw new SpecError(`${at}build context ${dir}: ${name} is ${kind}, which a build cannot send; expected only files, folders and symlinks, e.g. remove it or move it out of the context`);
      // A link is sent as a link; one to a special file would give the build that file: refused too (stat never opens it).
      const linked = stats.isSymbolicLink() ? special(statOrUndefined(path)) : undefined;
      if (linked) throw new SpecError(`${at}build context ${dir}: ${name} is a symlink to ${linked}, which a build cannot use; expected it removed, or a link to a regular file`);
      if (stats.isDirectory()) {
        walk(path);
        continue;
      }
      if (entries.size >= CONTEXT_LIMITS.files) throw new SpecError(`${at}build context ${dir} holds more than ${CONTEXT_LIMITS.files} files; expected a context of source files, e.g. point spec.build.context at a smaller folder`);
      bytes += stats.isSymbolicLink() ? 0 : stats.size;
      if (bytes > CONTEXT_LIMITS.bytes) throw new SpecError(`${at}build context ${dir} is larger than ${CONTEXT_LIMITS.bytes / 1024 / 1024} MiB; expected a context of source files, e.g. point spec.build.context at a smaller folder`);
      entries.set(name, { link: stats.isSymbolicLink() ? readlinkSync(path) : undefined, mode: (stats.mode & 0o7777).toString(8) });
    }
  };
  const files: string[] = [];
  const hash = createHash("sha256").update(canonicalJson(options));
  try {
    walk(dir);
    files.push(...[...entries.keys()].sort());
    for (const file of files) {
      const { link, mode } = entries.get(file)!;
      if (link !== undefined) hash.update(`${file}\0link\0${link}\0`);
      else hash.update(`${file}\0${mode}\0`).update(readFileSync(join(dir, file))).update("\0");
    }
  } catch (error) {
    if (error instanceof SpecError) throw error;
    const why = error instanceof Error ? error.message : String(error);
    throw new SpecError(`${at}build context ${dir} cannot be read (${why}); expected a readable folder holding a Dockerfile`, { cause: error });
  }
  return { dir, files, hash: hash.digest("hex") };
}
