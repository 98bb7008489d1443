import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "berth-trace-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every module URL `berth ARGS` resolves, as the tracing hooks record them. */
async function modulesLoadedBy(...args: string[]): Promise<string[]> {
  const file = join(dir, `${args.join("_").replace(/\W/g, "")}.txt`);
  await promisify(execFile)(process.execPath, ["--import", "./test/support/trace/register.mjs", "bin/berth.js", ...args], { env: { ...process.env, BERTH_TRACE_FILE: file } });
  return readFileSync(file, "utf8").split("\n").filter(Boolean);
}

const HEAVY = /node_modules\/(dockerode|docker-modem|ssh2|@libsql|libsql|drizzle-orm|xstate|prom-client|chokidar|ajv)\//;

/** The bundle's map (esbuild's metafile): which sources and packages each file of dist/ holds. */
const meta = JSON.parse(readFileSync("dist/meta.json", "utf8")) as { outputs: Record<string, { inputs: Record<string, unknown> }> };

/** Every source module a command loaded: those inside each loaded file of dist/, and anything loaded from node_modules directly. */
function sourcesOf(urls: string[]): string[] {
  return urls.flatMap((url) => {
    const dist = /\/(dist\/.+\.js)$/.exec(url)?.[1];
    return dist ? Object.keys(meta.outputs[dist]?.inputs ?? {}) : [url];
  });
}

describe("the compiled CLI loads lazily", () => {
  it.each(["version", "--help", "apply --help", "run --help"])("`berth %s` loads no Docker client, SSH, store, state machine, metrics or validator", async (command) => {
    const modules = sourcesOf(await modulesLoadedBy(...command.split(" ")));
    expect(modules).toContain("src/cli/main.ts");
    expect(modules.filter((m) => HEAVY.test(m))).toEqual([]);
  }, 30_000);

  it("a command that needs them still loads them when it runs", async () => {
    const modules = sourcesOf(await modulesLoadedBy("validate", "manifests"));
    expect(modules.some((m) => /node_modules\/ajv\//.test(m))).toBe(true);
    expect(modules).toContain("src/manifests/load.ts");
  }, 30_000);
});
