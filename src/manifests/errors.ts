import { stringify } from "yaml";

/** One problem found in the manifests, located to the character. */
export interface ManifestProblem {
  file: string;
  line: number;
  col: number;
  /** `Kind/name`, or `document N` when the document is not readable as a resource. */
  resource: string;
  /** What is wrong, in the operator's terms. */
  problem: string;
  /** What would be accepted. */
  expected?: string;
  /** A concrete value that would be accepted, already rendered as YAML. */
  example?: string;
}

/** A manifest problem as an Error: `file:line:col: Kind/name: what; expected …, e.g. …`. */
export class ManifestError extends Error implements ManifestProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly resource: string;
  readonly problem: string;
  readonly expected?: string;
  readonly example?: string;

  constructor(problem: ManifestProblem, options?: { cause?: unknown }) {
    super(formatProblem(problem), options);
    this.name = "ManifestError";
    this.file = problem.file;
    this.line = problem.line;
    this.col = problem.col;
    this.resource = problem.resource;
    this.problem = problem.problem;
    if (problem.expected !== undefined) this.expected = problem.expected;
    if (problem.example !== undefined) this.example = problem.example;
  }

  /** Plain data for `-o json` and the store. */
  toJSON(): ManifestProblem & { message: string } {
    const { file, line, col, resource, problem, expected, example } = this;
    return { file, line, col, resource, problem, expected, example, message: this.message };
  }
}

/** Renders a problem in the one format every Berth surface uses. */
export function formatProblem(p: ManifestProblem): string {
  let text = `${p.file}:${p.line}:${p.col}: ${p.resource}: ${p.problem}`;
  if (p.expected) text += `; expected ${p.expected}`;
  if (p.example) text += `${p.expected ? "," : ";"} e.g. ${p.example}`;
  return text;
}

/** Renders a value as compact one-line YAML, for examples inside messages. */
export function inlineYaml(value: unknown): string {
  if (typeof value === "string") return stringify(value).trim();
  return stringify(value, { collectionStyle: "flow", lineWidth: 0 }).trim();
}

/** Orders problems by file, then position, for stable output. */
export function compareProblems(a: ManifestProblem, b: ManifestProblem): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.problem.localeCompare(b.problem);
}
