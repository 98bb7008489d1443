import type { Reporter, TestModule } from "vitest/node";

/** Prints one plain closing line, `tests: N passed, N failed, N skipped`, for CI logs. */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0, pending: 0 };
    for (const module of testModules) for (const test of module.children.allTests()) counts[test.result().state]++;
    // A module that failed to load has no tests but must still count as a failure.
    const brokenModules = testModules.filter((m) => m.state() === "failed" && [...m.children.allTests()].length === 0).length;
    process.stdout.write(`\ntests: ${counts.passed} passed, ${counts.failed + brokenModules} failed, ${counts.skipped} skipped\n`);
  }
}
