import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/**
 * The folder of Berth's package.json: the checkout, or the installed package.
 * Found by walking up from this module, so the sources (`src/`) and the
 * bundle (`dist/`) find the same assets (crds/, migrations).
 */
export function packageRoot(): string {
  if (root) return root;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "berth") return (root = dir);
    if (dirname(dir) === dir) throw new Error("Berth's package.json was not found above its modules; expected the package installed whole (npm install ./berth-*.tgz)");
  }
}
