import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * Vitest global setup: bundles dist/ before any test spawns bin/berth.js, so
 * a child process never runs an older build than the sources. Type errors
 * are `npm test`'s own first step (tsc --noEmit); the bundler only strips
 * types, so a work in progress can still run its tests. No output fails.
 */
export default function build(): void {
  const result = spawnSync(process.execPath, ["build.mjs"], { encoding: "utf8" });
  if (result.status !== 0 || !existsSync("dist/berth.js")) throw new Error(`npm run build failed: ${result.stderr || result.stdout}`);
}
