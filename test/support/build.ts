import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * Vitest global setup: compiles dist/ (incrementally) before any test spawns
 * bin/berth.js, so a child process never runs an older build than the sources.
 * Type errors are `npm test`'s own first step (tsc --noEmit); here tsc still
 * emits, so a work in progress can run its tests. No output at all fails.
 */
export default function build(): void {
  const result = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { encoding: "utf8" });
  if (result.status !== 0) process.stderr.write(`dist/ built with type errors (npm test's tsc --noEmit reports them):\n${result.stdout.split("\n").slice(0, 5).join("\n")}\n`);
  if (!existsSync("dist/src/cli/main.js")) throw new Error(`the build produced no dist/src/cli/main.js: ${result.stderr || result.stdout}`);
}
