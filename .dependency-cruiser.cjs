/**
 * Berth's import rules (docs/architecture.md): no cycles, and dependencies flow
 * one way, manifests -> desired -> engine -> controllers -> record/http/cli,
 * with docker and store as leaves. Only src/docker talks to the Docker API.
 */
const BERTH = "^(src|controllers)/";
const above = (...folders) => `^(${folders.join("|")})/`;

module.exports = {
  forbidden: [
    { name: "no-cycles", severity: "error", comment: "Imports never go round in a circle.", from: { path: BERTH }, to: { circular: true } },
    {
      name: "docker-is-a-leaf",
      severity: "error",
      comment: "src/docker drives the engine and knows nothing of what Berth decides.",
      from: { path: "^src/docker/" },
      // The manifest types are the shared vocabulary (a DeploymentTarget names how to connect).
      to: { path: BERTH, pathNot: "^src/(docker|log)/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "store-is-a-leaf",
      severity: "error",
      comment: "src/store keeps rows; it never calls back into the runtime.",
      from: { path: "^src/store/" },
      // Row shapes may name the types they store; no code of the runtime is imported (the package root locates the migrations).
      to: { path: BERTH, pathNot: "^src/(store/|package-root\\.ts$)", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "manifests-below-desired",
      severity: "error",
      from: { path: "^src/manifests/" },
      to: { path: above("src/desired", "src/health", "src/engine", "controllers", "src/record", "src/http", "src/cli", "src/parity") },
    },
    {
      name: "desired-below-engine",
      severity: "error",
      from: { path: "^src/desired/" },
      to: { path: above("src/health", "src/engine", "controllers", "src/record", "src/http", "src/cli", "src/parity") },
    },
    {
      name: "engine-below-controllers",
      severity: "error",
      comment: "The engine is the generic runner: the kinds plug into it, it never imports them.",
      from: { path: "^src/(engine|health|workqueue)/" },
      to: { path: above("controllers", "src/record", "src/http", "src/cli", "src/parity") },
    },
    {
      name: "controllers-below-interfaces",
      severity: "error",
      from: { path: "^controllers/" },
      to: { path: above("src/record", "src/http", "src/cli", "src/parity") },
    },
    {
      name: "notify-above-engine",
      severity: "error",
      comment: "src/notify hears the engine as an observer; below it only its types (the event shape) may be named.",
      from: { path: "^(src/(manifests|desired|docker|store|engine|health|workqueue)|controllers)/" },
      to: { path: "^src/notify/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "source-and-secrets-are-leaves",
      severity: "error",
      comment: "src/source (git) and src/secrets (SOPS) fetch and open inputs; they know nothing of what Berth decides or records.",
      from: { path: "^src/(source|secrets)/" },
      to: { path: above("src/desired", "src/engine", "controllers", "src/record", "src/http", "src/cli", "src/notify", "src/store", "src/docker") },
    },
    {
      name: "only-docker-calls-docker",
      severity: "error",
      comment: "The Docker API (dockerode, docker-modem, ssh2) is reached through src/docker's driver only.",
      from: { path: BERTH, pathNot: "^src/docker/" },
      to: { path: "node_modules/(dockerode|docker-modem|ssh2)/", dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.test\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
