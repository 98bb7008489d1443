import { formatProblem, type ManifestProblem } from "../errors.ts";

/**
 * Something in the manifests that is allowed but probably not meant, located like
 * an error. A warning never makes a file invalid, never holds a file back at its
 * last good version and never makes the desired state incomplete.
 */
export class ManifestWarning implements ManifestProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly resource: string;
  readonly problem: string;
  readonly expected?: string;
  readonly example?: string;
  /** `file:line:col: Kind/name: what; expected …, e.g. …`, as for errors. */
  readonly message: string;

  constructor(problem: ManifestProblem) {
    this.file = problem.file;
    this.line = problem.line;
    this.col = problem.col;
    this.resource = problem.resource;
    this.problem = problem.problem;
    if (problem.expected !== undefined) this.expected = problem.expected;
    if (problem.example !== undefined) this.example = problem.example;
    this.message = formatProblem(problem);
  }

  /** Plain data for `-o json`, in the same shape as an error's. */
  toJSON(): ManifestProblem & { message: string } {
    const { file, line, col, resource, problem, expected, example, message } = this;
    return { file, line, col, resource, problem, expected, example, message };
  }
}
