import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect } from "vitest";
import { repoRoot } from "./paths.js";

/**
 * A Debian root for one system test, booted under systemd-nspawn: made by
 * debootstrap (test/system/make-root.sh, cached) and copied into a fresh
 * directory under /var/tmp, with a persistent journal (so a failed boot can be
 * read afterwards) and a `results` directory that the booted system writes
 * `results.txt` into. Removed after the file's tests, unless
 * AGEBOOT_KEEP_BOOT_ROOT=1 keeps it for a post-mortem.
 */
export class BootRoot {
  readonly root: string;
  readonly results: string;

  private constructor(readonly work: string) {
    const cached = execFileSync("bash", [join(repoRoot, "test/system/make-root.sh")], { stdio: ["ignore", "pipe", "inherit"] })
      .toString()
      .trim();
    this.root = join(work, "root");
    execFileSync("cp", ["-a", cached, this.root]);
    chmodSync(this.root, 0o755);
    this.results = join(work, "results");
    mkdirSync(this.results);
    chmodSync(this.results, 0o777);
    mkdirSync(join(this.root, "var/log/journal"), { recursive: true });
  }

  /** Call at the top level of a test file: the root is made in `work`, a new directory named after `prefix`. */
  static perFile(prefix: string): () => BootRoot {
    const work = mkdtempSync(`/var/tmp/${prefix}-`);
    afterAll(() => {
      if (!process.env["AGEBOOT_KEEP_BOOT_ROOT"]) rmSync(work, { recursive: true, force: true });
      else process.stderr.write(`${prefix}: root kept in ${work}\n`);
    });
    return () => new BootRoot(work);
  }

  /** Writes `contents` at `path` inside the root, with `mode`, owned by `owner` (user and group). */
  put(path: string, contents: string | Buffer, mode = 0o644, owner = 0): void {
    const target = join(this.root, path);
    mkdirSync(join(target, ".."), { recursive: true });
    writeFileSync(target, contents);
    chmodSync(target, mode);
    chownSync(target, owner, owner);
  }

  /** What `systemctl enable` leaves for a unit of /etc/systemd/`scope` wanted by `target`. */
  enable(unit: string, target: string, scope: "system" | "user" = "system"): void {
    const wants = join(this.root, `etc/systemd/${scope}/${target}.wants`);
    mkdirSync(wants, { recursive: true });
    symlinkSync(`/etc/systemd/${scope}/${unit}`, join(wants, unit));
  }

  /**
   * Boots the root until it powers off, with node and dist/ bound in read-only
   * (/usr/bin/node, /usr/lib/ageboot) and `results` at /results; `binds` are
   * more `host:container` read-write binds. Returns the key=value lines of
   * results.txt (after checking that the checker wrote `done=yes`), the file's
   * text, and what the boot printed on the console.
   */
  boot(binds: readonly string[] = []): { result: Record<string, string>; text: string; console: string } {
    const boot = spawnSync(
      "systemd-nspawn",
      [
        "--quiet",
        "--boot",
        `--directory=${this.root}`,
        "--console=pipe",
        "--register=no",
        "--keep-unit",
        ...binds.map((bind) => `--bind=${bind}`),
        `--bind=${this.results}:/results`,
        `--bind-ro=${process.execPath}:/usr/bin/node`,
        `--bind-ro=${join(repoRoot, "dist")}:/usr/lib/ageboot`,
      ],
      { encoding: "utf8", timeout: Number(process.env["AGEBOOT_BOOT_TIMEOUT_MS"] ?? 240_000) },
    );
    const output = `${boot.stdout}\n${boot.stderr}`;
    let resultText = "";
    try {
      resultText = readFileSync(join(this.results, "results.txt"), "utf8");
    } catch {
      // No results: the expectation below shows what the boot printed.
    }
    expect(resultText, `no results; the boot said:\n${output.slice(-4000)}`).toContain("done=yes");
    const result = Object.fromEntries(
      resultText
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    return { result, text: resultText, console: output };
  }
}
