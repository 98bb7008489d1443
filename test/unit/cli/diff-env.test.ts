import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ParityReport } from "../../../src/parity/diff.ts";
import { openStore } from "../../../src/store/index.ts";
import { cliRunner } from "../../support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "berth-cli-diff-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let databases = 0;
/** A fresh database for one test, so that each sees only its own reports. */
const freshDb = () => `file:${dir}/diff-${++databases}.db`;

const berth = cliRunner({});
const DEPRECATED = "warning: 7 files use apiVersion berth.dev/v1alpha1, which is deprecated (first at manifests/development.yaml:2:13); berth migrate manifests rewrites them to berth.dev/v1beta1, keeping comments and formatting\n";

interface Row {
  service: string;
  status: string;
  severity: string;
  field: string;
  a: string;
  b: string;
}

/** The table's rows, cut at the header's columns; a service's later rows inherit its name and status. */
function rowsOf(output: string): { header: string; rows: Row[]; summary: string } {
  const lines = output.trimEnd().split("\n");
  const header = lines[0]!;
  const summary = lines.at(-1)!;
  const names = header.split(/\s+/);
  const starts = names.map((name, i) => header.indexOf(name, i ? header.indexOf(names[i - 1]!) + names[i - 1]!.length : 0));
  const rows: Row[] = [];
  for (const line of lines.slice(1, -1)) {
    const cells = starts.map((start, i) => line.slice(start, starts[i + 1] ?? line.length).trim());
    const previous = rows.at(-1);
    const [service, status, severity, field, a, b] = cells as [string, string, string, string, string, string];
    rows.push({ service: service || previous!.service, status: status || previous!.status, severity, field, a, b });
  }
  return { header, rows, summary };
}

const SUMMARY = "3 service(s): 0 identical, 3 different, 0 missing in development, 0 missing in production; 1 error(s), 3 warning(s), 4 info";

/** What differs between the example's development and production, as [service, field, severity, a, b]. */
const EXPECTED: [string, string, string, unknown, unknown][] = [
  ["api", "image", "error", "berth-demo/busybox:1", "berth-demo/busybox:2"],
  ["api", "replicas", "warning", "2", "3"],
  ["api", "resources", "warning", '{"memory":67108864}', '{"memory":134217728}'],
  ["api", "env.LOG_LEVEL", "info", "debug", "info"],
  ["store", "env.LOG_LEVEL", "info", "debug", "info"],
  // The text of a port list is free; it must show each side's host port.
  ["web", "ports", "warning", expect.stringMatching(/^(?!.*8089).*8088/), expect.stringMatching(/^(?!.*8088).*8089/)],
  ["web", "routing", "info", "Host(`web.lvh.me`)", "Host(`web.example.com`)"],
  ["web", "env.LOG_LEVEL", "info", "debug", "info"],
];

describe("berth diff-env", () => {
  it("prints every difference between the example's development and production as a table, and exits 2", async () => {
    const { code, stdout, stderr } = await berth("diff-env", "development", "production", "manifests", "--db", freshDb());
    // The example is still written in v1alpha1: one line says so, nothing else goes to stderr.
    expect(stderr).toBe(DEPRECATED);
    expect(code).toBe(2);

    const { header, rows, summary } = rowsOf(stdout);
    expect(header.split(/\s+/)).toEqual(["SERVICE", "STATUS", "SEVERITY", "FIELD", "DEVELOPMENT", "PRODUCTION"]);
    expect(rows.map((r) => [r.service, r.field, r.severity, r.a, r.b])).toEqual(EXPECTED);
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(["different"]));
    expect(summary).toBe(SUMMARY);

    // The same rows, as they read on screen.
    expect(stdout).toMatch(/^api\s+different\s+error\s+image\s+berth-demo\/busybox:1\s+berth-demo\/busybox:2$/m);
    expect(stdout).toMatch(/^\s+warning\s+replicas\s+2\s+3$/m);
    expect(stdout).toMatch(/^\s+warning\s+resources\s+\{"memory":67108864\}\s+\{"memory":134217728\}$/m);
    expect(stdout).toMatch(/^web\s+different\s+warning\s+ports\s+.*8088.*\s+.*8089.*$/m);
    expect(stdout).toMatch(/^\s+info\s+routing\s+Host\(`web\.lvh\.me`\)\s+Host\(`web\.example\.com`\)$/m);
    expect(stdout).toMatch(/^\s+info\s+env\.LOG_LEVEL\s+debug\s+info$/m);
  });

  it("prints the same report as JSON with -o json", async () => {
    const { code, stdout } = await berth("diff-env", "development", "production", "manifests", "-o", "json", "--db", freshDb());
    expect(code).toBe(2);
    const report = JSON.parse(stdout) as ParityReport;
    expect(report).toMatchObject({ project: "demo", a: "development", b: "production", identical: false });
    expect(report.summary).toEqual({ identical: 0, different: 3, "missing in A": 0, "missing in B": 0, error: 1, warning: 3, info: 4 });
    expect(report.services.map((s) => [s.service, s.status, s.severity])).toEqual([
      ["api", "different", "error"],
      ["store", "different", "info"],
      ["web", "different", "warning"],
    ]);
    expect(report.services.flatMap((s) => s.differences.map((d) => [s.service, d.path, d.severity, d.a, d.b]))).toEqual(EXPECTED);
  });

  it("stores each report in the database", async () => {
    const db = freshDb();
    const { stdout } = await berth("diff-env", "development", "production", "manifests", "-o", "json", "--db", db);
    await berth("diff-env", "development", "development", "manifests", "--db", db);
    const store = await openStore(db, { mustExist: true });
    try {
      const stored = await store.parity.list();
      // Newest first.
      expect(stored.map((r) => [r.a, r.b, r.identical])).toEqual([
        ["development", "development", true],
        ["development", "production", false],
      ]);
      expect(stored[1]).toEqual(JSON.parse(stdout));
      expect(await store.parity.list({ project: "demo", limit: 1 })).toHaveLength(1);
      expect(await store.parity.list({ project: "other" })).toEqual([]);
    } finally {
      store.close();
    }
  });

  it("exits 0 and lists every service identical when an environment is compared with itself", async () => {
    const { code, stdout } = await berth("diff-env", "development", "development", "manifests", "--db", freshDb());
    expect(code).toBe(0);
    const { rows, summary } = rowsOf(stdout);
    expect(rows.map((r) => [r.service, r.status, r.severity, r.field])).toEqual([
      ["api", "identical", "", ""],
      ["store", "identical", "", ""],
      ["web", "identical", "", ""],
    ]);
    expect(summary).toBe("3 service(s): 3 identical, 0 different, 0 missing in development, 0 missing in development; 0 error(s), 0 warning(s), 0 info");
  });

  it.each([
    { args: ["development", "staging"], missing: "staging" },
    { args: ["qa", "production"], missing: "qa" },
    { args: ["qa", "staging"], missing: "qa or staging" },
  ])("exits 1 naming the known environments when $missing is unknown, and stores nothing", async ({ args, missing }) => {
    const db = freshDb();
    const { code, stdout, stderr } = await berth("diff-env", ...args, "manifests", "--db", db);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(`${DEPRECATED}no Environment named ${missing} in manifests; expected one of development, production\n`);
    expect(existsSync(db.slice("file:".length))).toBe(false);
  });

  it("exits 1 on an invalid manifests directory", async () => {
    const { code, stdout, stderr } = await berth("diff-env", "dev", "prod", "test/fixtures/invalid", "--db", freshDb());
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/test\/fixtures\/invalid: 7 problem\(s\); nothing was changed\n$/);
  });
});
