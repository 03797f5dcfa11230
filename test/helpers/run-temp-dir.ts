import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * One temporary directory per test run, which every temporary file of the run
 * goes under (TMPDIR: os.tmpdir() in the tests, and every child they start),
 * removed when the run ends, passed or failed: a run leaves nothing in /tmp.
 * scripts/run-tests.sh makes it for `npm test` (and removes it even when
 * vitest is killed); a bare `vitest run` gets it here, with the teardown.
 * 0755, as /tmp is to them: test users reach the test hosts below (status
 * opens each directory on the way, which needs read permission).
 */
export default function runTempDir(): (() => void) | undefined {
  if (process.env["AGEBOOT_TEST_RUN_DIR"]) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "ageboot-test-run."));
  chmodSync(dir, 0o755);
  process.env["AGEBOOT_TEST_RUN_DIR"] = dir;
  process.env["TMPDIR"] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
