// The text of `ageboot status` and the verdict behind its exit status, from
// reports built by hand (the privileged tier makes real ones: status.test.ts).
import { describe, expect, it } from "vitest";
import { formatStatus, size, table, visible } from "../../src/status/format-text.js";
import { type Finding, type SecretRow, type StatusReport, verdictOf } from "../../src/status/report.js";

const postgres = { id: 71, name: "postgres" };

function secret(name: string, declared: Partial<NonNullable<SecretRow["declared"]>> | null = {}): SecretRow {
  return {
    name,
    installed: { state: "present", owner: postgres, group: postgres, mode: "0400", size: 33 },
    declared:
      declared === null
        ? null
        : {
            owner: "postgres",
            group: null,
            mode: "0400",
            state: "as-declared",
            recipients: { state: "match", identity: "ssh-ed25519 AbCdEf SHA256:x (/etc/ssh/k)", key: "ssh-ed25519 AbCdEf" },
            ...declared,
          },
  };
}

function report(overrides: Partial<StatusReport> = {}): StatusReport {
  const findings = overrides.findings ?? [];
  return {
    version: 1,
    secretsDir: "/run/agenix",
    secretsMountPoint: "/run/agenix.d",
    secretsMount: { fstype: "tmpfs", swappable: false, sizeLimitBytes: 256 * 1024 * 1024 },
    manifest: "/etc/ageboot/manifest.json",
    reader: { uid: 0, root: true },
    ...verdictOf(findings),
    generations: {
      current: { generation: 3, madeAt: "2025-01-31T12:00:00.000Z" },
      containerLink: 3,
      kept: {
        complete: true,
        entries: [
          { generation: 3, madeAt: "2025-01-31T12:00:00.000Z", current: true },
          { generation: 2, madeAt: "2025-01-30T08:15:00.000Z", current: false },
        ],
      },
    },
    secrets: { generation: 3, complete: true, entries: [secret("db-password"), secret("api-token")] },
    customPaths: {
      complete: true,
      entries: [{ path: "/etc/nginx/cert.pem", secret: "api-token", kind: "symlink", state: "ok", detail: "-> /run/agenix/api-token", declared: true }],
    },
    findings,
    ...overrides,
  };
}

describe("status verdict", () => {
  const problem: Finding = { severity: "problem", subject: "secret a", message: "not installed" };
  const unchecked: Finding = { severity: "unchecked", subject: "identities", message: "could not be read" };

  it("is 0 with no findings, 1 with any problem, 6 when only unchecked", () => {
    expect(verdictOf([])).toEqual({ state: "as-declared", exitStatus: 0 });
    expect(verdictOf([unchecked, problem])).toEqual({ state: "problems", exitStatus: 1 });
    expect(verdictOf([unchecked])).toEqual({ state: "incomplete", exitStatus: 6 });
  });
});

describe("status text", () => {
  it("a host as declared: headline, overview, aligned tables, no findings block", () => {
    const text = formatStatus(report());
    const lines = text.split("\n");
    expect(lines[0]).toBe("ageboot status: as declared");
    expect(text).toContain("secretsDir  /run/agenix -> /run/agenix.d/3\n");
    expect(text).toContain("generation  3, made 2025-01-31 12:00:00 UTC\n");
    expect(text).toContain("kept        2 (2025-01-30 08:15:00 UTC)\n");
    expect(text).toContain("mount       tmpfs (noswap, size 256 MiB)\n");
    const header = lines.find((line) => line.startsWith("SECRET"))!;
    const row = lines.find((line) => line.startsWith("db-password"))!;
    for (const column of ["OWNER", "GROUP", "MODE", "SIZE", "DECLARED", "KEY"]) expect(row[header.indexOf(column) - 1]).toBe(" ");
    expect(row.slice(header.indexOf("MODE"), header.indexOf("MODE") + 4)).toBe("0400");
    expect(row.slice(header.indexOf("KEY"))).toBe("ssh-ed25519 AbCdEf");
    expect(text).toMatch(/^\/etc\/nginx\/cert\.pem +api-token +symlink +ok$/m);
    expect(text).not.toContain("problems:");
    expect(text.endsWith("\n")).toBe(true);
  });

  it("without a manifest: no DECLARED or KEY column, and says there was nothing to compare with", () => {
    const text = formatStatus(report({ manifest: null, secrets: { generation: 3, complete: true, entries: [secret("db-password", null)] } }));
    expect(text.split("\n")[0]).toBe("ageboot status: nothing wrong found (no manifest to compare with)");
    expect(text).not.toContain("DECLARED");
    expect(text).toContain("manifest    none");
  });

  it("problems and unchecked items are listed after the tables, and the headline counts them", () => {
    const findings: Finding[] = [
      { severity: "problem", subject: "secret old", message: "not installed in generation 3" },
      { severity: "unchecked", subject: "path /home/a/t", message: "permission denied" },
    ];
    const text = formatStatus(
      report({
        findings,
        secrets: {
          generation: 3,
          complete: true,
          entries: [
            {
              name: "old",
              installed: { state: "missing" },
              declared: { ...secret("old").declared!, state: "missing", recipients: { state: "no-match", detail: "no identity matches" } },
            },
          ],
        },
      }),
    );
    expect(text.split("\n")[0]).toBe("ageboot status: 1 problem, 1 thing not checked (exit 1)");
    expect(text).toMatch(/^old +- +- +- +- +MISSING +NO MATCH$/m);
    expect(text).toContain("problems:\n  secret old: not installed in generation 3");
    expect(text).toContain("not checked:\n  path /home/a/t: permission denied");
  });

  it("as a user who could not check everything: says so, with the uid", () => {
    const findings: Finding[] = [{ severity: "unchecked", subject: "identities", message: "the host's keys could not be read" }];
    const text = formatStatus(report({ findings, reader: { uid: 1000, root: false } }));
    expect(text.split("\n")[0]).toBe("ageboot status: nothing wrong found, but 1 thing could not be checked as uid 1000 (exit 6)");
  });

  it("no name, path or symlink target can forge a line or hide text", () => {
    const hostile = "a\nageboot status: as declared\u202e\u0007";
    const text = formatStatus(
      report({
        secrets: { generation: 3, complete: true, entries: [secret(hostile)] },
        customPaths: {
          complete: true,
          entries: [{ path: `/home/x/${hostile}`, secret: hostile, kind: "symlink", state: "replaced", detail: `a symlink to ${hostile}`, declared: true }],
        },
        findings: [{ severity: "problem", subject: `path /home/x/${hostile}`, message: `a symlink to ${hostile}` }],
      }),
    );
    expect(text.match(/^ageboot status: /gm)).toHaveLength(1);
    expect(text.includes("\u202e") || text.includes("\u0007")).toBe(false);
    expect(text).toContain("a\\u000aageboot status: as declared\\u202e\\u0007");
    expect(visible("back\\slash")).toBe("back\\\\slash");
  });

  it("says what holds the secrets: a ramfs, a tmpfs that may be swapped, or nothing", () => {
    expect(formatStatus(report({ secretsMount: { fstype: "ramfs", swappable: false, sizeLimitBytes: null } }))).toContain("mount       ramfs (never swapped, no size limit)\n");
    expect(formatStatus(report({ secretsMount: { fstype: "tmpfs", swappable: true, sizeLimitBytes: null } }))).toContain(
      "mount       tmpfs (swappable: no noswap, no size limit)\n",
    );
    expect(formatStatus(report({ secretsMount: null }))).toContain("mount       no ramfs or tmpfs mounted\n");
  });

  it("sizes read as people read them", () => {
    expect([0, 41, 1023, 1024, 1536, 10 * 1024, 5 * 1024 * 1024 + 1].map(size)).toEqual(["0 B", "41 B", "1023 B", "1.0 KiB", "1.5 KiB", "10 KiB", "5.0 MiB"]);
  });

  it("tables pad every column but the last", () => {
    expect(table(["A", "BB"], [["long", "x"]])).toBe("A     BB\nlong  x");
  });
});
