/**
 * How long validation of a large manifests directory takes: 1,000 Service
 * documents plus a target, a project and an environment. Prints figures; asserts nothing.
 * Beside it, when installed, the same services as a compose file checked by
 * `docker-compose config -q`.
 *
 *   npm run bench:validate [-- --services 1000 --runs 7]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ManifestLoader } from "../src/manifests/load.ts";
import { SchemaValidator } from "../src/manifests/schema-validator.ts";

const { values } = parseArgs({ options: { services: { type: "string", default: "1000" }, runs: { type: "string", default: "7" } } });
const count = Number(values.services);
const runs = Number(values.runs);

function serviceDoc(i: number): string {
  const depends = i > 0 ? `  dependsOn:\n    - service: svc-${i - 1}\n` : "";
  return `apiVersion: berth.dev/v1alpha1
kind: Service
metadata:
  name: svc-${i}
spec:
  project: bench
  image: registry.example.com/bench/svc-${i}:1.0.${i}
  command: [httpd, -f, -p, "8080"]
  env:
    - name: INDEX
      value: "${i}"
  ports:
    - container: 8080
  healthCheck:
    http: { path: /healthz, port: 8080 }
    interval: 10s
    timeout: 2s
  resources: { cpus: 0.25, memory: 64m }
${depends}`;
}

function composeService(i: number): string {
  const depends = i > 0 ? `    depends_on: [svc-${i - 1}]\n` : "";
  return `  svc-${i}:
    image: registry.example.com/bench/svc-${i}:1.0.${i}
    command: [httpd, -f, -p, "8080"]
    environment: { INDEX: "${i}" }
    expose: ["8080"]
    healthcheck: { test: [CMD, wget, -q, -O-, "http://127.0.0.1:8080/healthz"], interval: 10s, timeout: 2s }
    mem_limit: 64m
    cpus: 0.25
${depends}`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number) => `${n.toFixed(1)} ms`;

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const root = mkdtempSync(join(tmpdir(), "berth-bench-validate-"));
const dir = join(root, "manifests");
mkdirSync(dir);
try {
  writeFileSync(
    join(dir, "base.yaml"),
    `apiVersion: berth.dev/v1alpha1\nkind: DeploymentTarget\nmetadata: {name: local}\nspec: {type: local}\n---\napiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: bench}\n---\napiVersion: berth.dev/v1alpha1\nkind: Environment\nmetadata: {name: dev}\nspec: {project: bench, target: local}\n`,
  );
  for (let i = 0; i < count; i++) writeFileSync(join(dir, `svc-${i}.yaml`), serviceDoc(i));
  writeFileSync(join(root, "compose.yml"), `services:\n${Array.from({ length: count }, (_, i) => composeService(i)).join("")}`);

  let validator!: SchemaValidator;
  const compile = time(() => (validator = new SchemaValidator()));
  const full: number[] = [];
  const rulesOnly: number[] = [];
  for (let r = 0; r < runs; r++) {
    const loader = new ManifestLoader(dir, { validator });
    let errors: string[] = [];
    full.push(await timeAsync(async () => (errors = (await loader.load()).errors.map((e) => e.message))));
    if (errors.length > 0) throw new Error(`bench manifests should be valid:\n${errors.slice(0, 3).join("\n")}`);
    rulesOnly.push(await timeAsync(() => loader.load()));
  }

  console.log(`validate ${count} Service documents (+3 others) in ${count + 1} files, median of ${runs} runs`);
  console.log(`  berth: compile CRD schemas (once per process)       ${ms(compile)}`);
  console.log(`  berth: read + parse + schema + cross-resource rules ${ms(median(full))}`);
  console.log(`  berth: unchanged files again (parse cache hit)      ${ms(median(rulesOnly))}`);

  const cli = spawnSync(process.execPath, ["bin/berth.js", "validate", dir], { encoding: "utf8" });
  const cliTimes = Array.from({ length: Math.min(runs, 3) }, () => time(() => spawnSync(process.execPath, ["bin/berth.js", "validate", dir])));
  console.log(`  berth validate (whole CLI process, incl. start-up)  ${ms(median(cliTimes))}  exit ${cli.status}`);

  const peer = spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" });
  if (peer.status === 0) {
    const peerTimes = Array.from({ length: Math.min(runs, 3) }, () =>
      time(() => execFileSync("docker-compose", ["-f", join(root, "compose.yml"), "config", "-q"], { stdio: "ignore" })),
    );
    console.log(`  docker-compose ${peer.stdout.trim()} config -q (same services)    ${ms(median(peerTimes))}`);
  } else {
    console.log("  docker-compose: not installed (apt-get install docker-compose) — no peer figure this run");
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
