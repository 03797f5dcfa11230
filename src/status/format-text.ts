import { describeSecretsMount } from "../activation/mount.js";
import type { CustomPathRow, DeclaredSecret, Finding, InstalledFile, Principal, RecipientCheck, StatusReport } from "./report.js";

/**
 * The report for people: a few header lines, one table per section, then
 * what is wrong. One function per block; a new section adds one here.
 * Everything that comes from the file system or a manifest goes through
 * visible(): a name or symlink target with a newline or a bidirectional
 * control must not be able to forge a line of this output.
 */
export function formatStatus(report: StatusReport): string {
  const blocks = [headline(report), overview(report), secretsTable(report), customPathsTable(report), findingsBlock(report)];
  return `${blocks.filter((block) => block !== "").join("\n\n")}\n`;
}

function headline(report: StatusReport): string {
  const problems = report.findings.filter((finding) => finding.severity === "problem").length;
  const unchecked = report.findings.length - problems;
  switch (report.state) {
    case "as-declared":
      return report.manifest === null ? "ageboot status: nothing wrong found (no manifest to compare with)" : "ageboot status: as declared";
    case "problems":
      return `ageboot status: ${count(problems, "problem")}${unchecked > 0 ? `, ${count(unchecked, "thing")} not checked` : ""} (exit ${report.exitStatus})`;
    case "incomplete":
      return `ageboot status: nothing wrong found, but ${count(unchecked, "thing")} could not be checked as uid ${report.reader.uid} (exit ${report.exitStatus})`;
  }
}

function overview(report: StatusReport): string {
  const { current, kept } = report.generations;
  const previous = kept.entries.filter((entry) => !entry.current);
  const keptText = previous.map((entry) => `${entry.generation}${entry.madeAt === null ? "" : ` (${time(entry.madeAt)})`}`).join(", ") || "none";
  const rows: [string, string][] = [
    ["secretsDir", `${visible(report.secretsDir)} -> ${current === null ? "(no current generation)" : `${visible(report.secretsMountPoint)}/${current.generation}`}`],
    ["generation", current === null ? "none" : `${current.generation}${current.madeAt === null ? "" : `, made ${time(current.madeAt)}`}`],
    ["kept", kept.complete ? keptText : visible(kept.reason ?? "not listed")],
    ["mount", report.secretsMount === null ? "no ramfs or tmpfs mounted" : describeSecretsMount(report.secretsMount)],
    ["manifest", report.manifest === null ? "none (give --manifest to compare with what is declared)" : visible(report.manifest)],
  ];
  return rows.map(([label, value]) => `${label.padEnd(11)} ${value}`).join("\n");
}

function secretsTable(report: StatusReport): string {
  const { entries, complete, reason } = report.secrets;
  const withManifest = report.manifest !== null;
  const header = ["SECRET", "OWNER", "GROUP", "MODE", "SIZE", ...(withManifest ? ["DECLARED", "KEY"] : [])];
  const rows = entries.map((row) => [
    visible(row.name),
    ...installedCells(row.installed),
    ...(withManifest ? [declaredCell(row.declared), keyCell(row.declared?.recipients)] : []),
  ]);
  const note = complete ? "" : `\n(${visible(reason ?? "not every file listed")})`;
  if (rows.length === 0) return `no secrets${report.generations.current === null ? "" : ` in generation ${report.generations.current.generation}`}${note}`;
  return `${table(header, rows)}${note}`;
}

function installedCells(installed: InstalledFile): string[] {
  switch (installed.state) {
    case "present":
      return [principal(installed.owner), principal(installed.group), installed.mode, size(installed.size)];
    case "missing":
      return ["-", "-", "-", "-"];
    case "not-a-file":
      return [visible(installed.type), "", "", ""];
    case "unknown":
      return ["?", "?", "?", "?"];
  }
}

function declaredCell(declared: DeclaredSecret | null): string {
  if (declared === null) return "NOT DECLARED";
  return { "as-declared": "ok", missing: "MISSING", differs: "DIFFERS", unknown: "?" }[declared.state];
}

function keyCell(check: RecipientCheck | undefined): string {
  if (check === undefined) return "";
  switch (check.state) {
    case "match":
      return check.key;
    case "no-match":
      return "NO MATCH";
    case "bad-file":
      return "BAD FILE";
    case "unknown":
      return "?";
    case "not-applicable":
      return "-";
  }
}

function customPathsTable(report: StatusReport): string {
  const { entries, complete, reason } = report.customPaths;
  const note = complete ? "" : `${entries.length === 0 ? "custom paths" : "\n("}not listed: ${visible(reason ?? "")}${entries.length === 0 ? "" : ")"}`;
  if (entries.length === 0) return note;
  return `${table(["CUSTOM PATH", "SECRET", "KIND", "STATE"], entries.map(customPathCells))}${note}`;
}

function customPathCells(row: CustomPathRow): string[] {
  const state = row.state === "ok" ? (row.kind === "copy" ? "ok, content identical" : "ok") : `${row.state.toUpperCase()}: ${visible(row.detail)}`;
  return [visible(row.path), visible(row.secret), row.kind, row.declared === false ? `${state} (no longer declared)` : state];
}

function findingsBlock(report: StatusReport): string {
  const list = (severity: Finding["severity"], title: string) => {
    const lines = report.findings.filter((finding) => finding.severity === severity).map((finding) => `  ${visible(finding.subject)}: ${visible(finding.message)}`);
    return lines.length === 0 ? "" : `${title}:\n${lines.join("\n")}`;
  };
  return [list("problem", "problems"), list("unchecked", "not checked")].filter((block) => block !== "").join("\n\n");
}

/** Columns padded to their widest cell, two spaces apart; the last is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function principal(who: Principal): string {
  return who.name === null ? String(who.id) : `${visible(who.name)} (${who.id})`;
}

/** Bytes as people read them: "41 B", "1.5 KiB", "3.2 MiB". */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** An ISO time as "2025-01-31 12:00:00 UTC". */
function time(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** Control, invisible and bidirectional characters escaped, so that no value can forge or hide a line. */
export function visible(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\]/gu, (character) => (character === "\\" ? "\\\\" : `\\u${character.codePointAt(0)!.toString(16).padStart(4, "0")}`));
}
