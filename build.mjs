// Compiles the CLI into dist/ with esbuild: one entry and chunks that commands load when they run. Bundling
// lets Node read a few files instead of hundreds at start-up; native and SSH modules stay in node_modules.
import { build } from "esbuild";
import { rmSync, writeFileSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
const result = await build({
  entryPoints: { berth: "src/cli/main.ts" },
  outdir: "dist",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Loaded from node_modules as installed: native bindings (libsql, cpu-features) and ssh2, which loads them.
  external: ["libsql", "@libsql/*", "ssh2", "cpu-features"],
  // CommonJS dependencies inside an ES module still call require().
  banner: { js: 'import { createRequire as __berthRequire } from "node:module"; const require = __berthRequire(import.meta.url);' },
  legalComments: "linked",
  logLevel: "warning",
  metafile: true,
});
// Which sources and packages each output holds: the lazy-start test reads it to see what a command loads.
writeFileSync("dist/meta.json", JSON.stringify(result.metafile));
