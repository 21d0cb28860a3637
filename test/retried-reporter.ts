import type { Reporter, TestCase } from 'vitest/node';

/**
 * Lists every test that failed and then passed on a retry (CI retries each failed test once: the
 * machine is shared and noisy). A test that fails twice stays red; one that needed the retry is named
 * here, so a flaky test is seen in the log instead of hiding behind a green run.
 */
export default class RetriedReporter implements Reporter {
  readonly #retried: string[] = [];

  onTestCaseResult(test: TestCase): void {
    const d = test.diagnostic();
    if (d && d.retryCount > 0 && test.result().state === 'passed') {
      this.#retried.push(`${test.module.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}`);
    }
  }

  onTestRunEnd(): void {
    if (this.#retried.length === 0) return;
    process.stdout.write(`\nPassed only on a retry (${this.#retried.length}):\n`);
    for (const name of this.#retried) process.stdout.write(`  - ${name}\n`);
  }
}
