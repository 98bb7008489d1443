// Compiles the CLI into dist/ with esbuild: one entry and chunks that commands load when they run. Bundling
// lets Node read a few files instead of hundreds at start-up; native and SSH modules stay in node_modules.
import { build } from "esbuild";
import { rmSync, writeFileSync } from "node:fs";

/**
 * dockerode loads its BuildKit session support (gRPC, protobuf: about a megabyte of code run at start-up)
 * whenever it is loaded. Berth builds with the engine's classic builder and never opens a session, so the
 * daemon carries a stub that says so instead.
 */
const withoutBuildKitSession = {
  name: "without-buildkit-session",
  setup(build) {
    build.onResolve({ filter: /^\.\/session$/ }, (args) => (args.importer.includes("/node_modules/dockerode/") ? { path: "dockerode-session", namespace: "berth-stub" } : undefined));
    build.onLoad({ filter: /.*/, namespace: "berth-stub" }, () => ({
      contents: 'module.exports = (docker, auth, callback) => callback(new Error("BuildKit sessions (build version 2) are not part of Berth; it builds with the classic builder"));',
      loader: "js",
    }));
  },
};

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
  plugins: [withoutBuildKitSession],
});
// Which sources and packages each output holds: the lazy-start test reads it to see what a command loads.
writeFileSync("dist/meta.json", JSON.stringify(result.metafile));
