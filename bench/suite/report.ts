import { writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import type Docker from "dockerode";
import type { Row } from "./common.ts";

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  docker: string;
}

export async function machine(docker: Docker): Promise<Machine> {
  const version = await docker.version();
  return { date: new Date().toISOString(), cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version, docker: `${version.Version} (API ${version.ApiVersion})` };
}

const figure = (value: number, unit: Row["unit"]) => (Number.isNaN(value) ? "—" : unit === "ms" ? `${Math.round(value)} ms` : unit === "MB" ? `${value.toFixed(1)} MB` : unit === "%" ? `${value.toFixed(2)} %` : String(value));
const ratio = (r: Row) => (Number.isNaN(r.ratio) || r.against === "target" ? "—" : `${r.ratio.toFixed(2)}×`);

function cells(r: Row): string[] {
  return [r.name, figure(r.berth, r.unit), r.against === "target" ? "—" : `${figure(r.reference, r.unit)} (${r.against})`, ratio(r), r.target, r.met ? "yes" : "NO"];
}

const HEAD = ["measure", "berth", "reference", "ratio", "target", "met"];

/** The table as the terminal shows it. */
export function renderTable(rows: readonly Row[], info: Machine): string {
  const all = [HEAD, ...rows.map(cells)];
  const widths = HEAD.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const notes = rows.filter((r) => r.note).map((r) => `  ${r.name}: ${r.note}`);
  return [`${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB; Linux ${info.kernel}; Node ${info.node}; Docker ${info.docker}`, "", ...all.map(line), "", "notes:", ...notes].join("\n");
}

/** docs/benchmarks.md: the latest table and the machine it ran on. */
export function renderMarkdown(rows: readonly Row[], info: Machine): string {
  const table = [`| ${HEAD.join(" | ")} |`, `|${HEAD.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${cells(r).join(" | ")} |`)].join("\n");
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.name}: ${r.note}`).join("\n");
  return `# Benchmarks

The latest run of \`npm run bench\`, written by the benchmark itself. Every
row is measured against its reference in the same run, on one private
Docker engine, so the ratio holds where the absolute figures would not.

- floor: the same containers created and started through the Docker API,
  all at once (what no tool can beat on this engine);
- docker-compose: Debian's docker-compose ${"1.29"} on the same services;
- Berth's engine calls in the no-op pass are counted by a proxy in front of
  the engine's socket; everything else runs on the socket itself, as the floor does.

Machine: ${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB memory; Linux ${info.kernel};
Node ${info.node}; Docker ${info.docker}. Run at ${info.date}.

${table}

Notes:

${notes}
`;
}

export function writeResults(rows: readonly Row[], info: Machine, markdown: string): void {
  writeFileSync("bench/latest.json", `${JSON.stringify({ machine: info, rows }, null, 2)}\n`);
  writeFileSync("docs/benchmarks.md", markdown);
}
