import { closeSync } from "node:fs";
import { recordPath } from "../../activation/generation-record.js";
import { type InstalledPath, isInstalledPath } from "../../activation/installed-paths.js";
import { RENDERED_DIRECTORY } from "../../manifest/types.js";
import { describeCause } from "../../errors.js";
import { readFully } from "../../read-fully.js";
import type { StatusContext } from "../context.js";
import { openSecret } from "../generation-files.js";
import { type Blocked, describeType, isBlocked, lstatIn, type OpenFile, openRegularFileIn, reachParent, readlinkIn } from "../reach.js";
import { type CustomPathRow, type CustomPathsSection, type Finding, formatMode, type Section } from "../report.js";

/** A record lists one entry per custom path; 16 MiB is some 100,000 of them. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Copies are compared with the generation's file this much at a time. */
const COMPARE_CHUNK = 64 * 1024;
/**
 * Copies larger than this are not compared byte by byte: a secret's owner
 * owns both files and can make them sparse terabytes (truncate -s 1T), which
 * took status 45 minutes to read (8 GiB: 21.5 s). ageboot has no size limit
 * on a secret; 256 MiB is the largest the benchmarks stage, and reading two
 * such files takes well under a second.
 */
export const MAX_COMPARED_BYTES = 256 * 1024 * 1024;

/** A custom path to look at: what should be there, from the manifest or the record of what ageboot installed. */
interface ExpectedPath {
  readonly path: string;
  readonly secret: string;
  readonly kind: "symlink" | "copy";
  /** For a symlink: where it must point. */
  readonly target: string;
  readonly declared: boolean | null;
}

/**
 * Custom paths and whether each is what ageboot put there: a symlink to
 * secretsDir/<name>, or a copy with the generation file's content, owner,
 * group and mode. Which paths: those the manifest declares, and those the
 * current generation's record says it installed (root's alone: as another
 * user, without a manifest, this section cannot be complete). Each path is
 * reached by descriptor (../reach.ts); a symlink on the way is followed only
 * where root alone can have made it, as activation does.
 */
export async function customPathsSection(context: StatusContext): Promise<Section<CustomPathsSection>> {
  const findings: Finding[] = [];
  const record = readCurrentRecord(context);
  const expected = expectedPaths(context, isBlocked(record) ? [] : record);
  const entries: CustomPathRow[] = [];
  for (const path of expected) {
    const { state, detail } = checkPath(context, path);
    entries.push({ path: path.path, secret: path.secret, kind: path.kind, state, detail, declared: path.declared });
    const subject = `path ${path.path}`;
    if (path.declared === false) {
      if (state === "ok")
        findings.push({ severity: "problem", subject, message: `secret ${path.secret} is no longer declared; the next ageboot activate removes its ${path.kind}` });
    } else if (state === "unknown") findings.push({ severity: "unchecked", subject, message: withoutPrefix(detail, `${path.path}: `) });
    else if (state !== "ok") findings.push({ severity: "problem", subject, message: `secret ${path.secret}: ${state}: ${withoutPrefix(detail, `${path.path}: `)}` });
  }
  if (isBlocked(record) && context.manifest === null) {
    findings.push({ severity: "unchecked", subject: "custom paths", message: record.reason });
    return { data: { complete: false, reason: record.reason, entries }, findings };
  }
  return { data: { complete: true, entries }, findings };
}

/** The record of what the current generation installed outside the mount; empty without one. */
function readCurrentRecord(context: StatusContext): InstalledPath[] | Blocked {
  const { mount, current, mountPoint } = context;
  if (current === null) return [];
  if (isBlocked(mount)) return mount;
  const name = recordPath("", current).slice(1);
  const file = openRegularFileIn(mount, name, `${mountPoint}/${name}`);
  if (isBlocked(file)) {
    if (file.blocked === "missing") return [];
    return { blocked: file.blocked, reason: `${file.reason}: the record of custom paths is readable by root alone; run as root, or give --manifest` };
  }
  try {
    if (file.info.size > MAX_RECORD_BYTES) return { blocked: "refused", reason: `${mountPoint}/${name} is larger than ${MAX_RECORD_BYTES} bytes; not read` };
    const bytes = Buffer.alloc(file.info.size);
    const filled = readFully(file.fd, bytes, 0);
    const parsed = JSON.parse(bytes.subarray(0, filled).toString("utf8")) as { paths?: unknown };
    if (!Array.isArray(parsed.paths)) throw new Error("no list of paths");
    return parsed.paths.filter(isInstalledPath);
  } catch (error) {
    return { blocked: "refused", reason: `${mountPoint}/${name}: not a record ageboot wrote (${describeCause(error)})` };
  } finally {
    closeSync(file.fd);
  }
}

/** Declared custom paths first, then recorded ones the manifest does not declare (or all recorded ones, without a manifest). */
function expectedPaths(context: StatusContext, record: readonly InstalledPath[]): ExpectedPath[] {
  const { manifest, secretsDir } = context;
  const paths = new Map<string, ExpectedPath>();
  // Secrets, and templates by their file name in a generation (rendered/<name>).
  const declaredItems = [
    ...(manifest?.secrets ?? []).map((secret) => ({ item: secret, fileName: secret.name })),
    ...(manifest?.templates ?? []).map((template) => ({ item: template, fileName: `${RENDERED_DIRECTORY}/${template.name}` })),
  ];
  for (const { item, fileName } of declaredItems) {
    const target = `${secretsDir}/${fileName}`;
    if (item.path === target) continue;
    paths.set(item.path, { path: item.path, secret: fileName, kind: item.symlink ? "symlink" : "copy", target, declared: true });
  }
  for (const entry of record) {
    if (paths.has(entry.path)) continue;
    const kind = entry.target === undefined ? "copy" : "symlink";
    paths.set(entry.path, { path: entry.path, secret: entry.secret, kind, target: entry.target ?? "", declared: manifest === null ? null : false });
  }
  return [...paths.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function checkPath(context: StatusContext, expected: ExpectedPath): { state: CustomPathRow["state"]; detail: string } {
  const { parent, name } = reachParent(expected.path);
  if (isBlocked(parent)) return fromBlocked(parent);
  try {
    const info = lstatIn(parent, name, expected.path);
    if (isBlocked(info)) return fromBlocked(info);
    if (info.isSymbolicLink()) {
      const target = readlinkIn(parent, name, expected.path);
      if (isBlocked(target)) return fromBlocked(target);
      if (expected.kind === "symlink" && target === expected.target) return { state: "ok", detail: `-> ${target}` };
      return { state: "replaced", detail: `a symlink to ${target}${expected.kind === "symlink" ? `, not to ${expected.target}` : ", not a copy"}` };
    }
    if (!info.isFile() || expected.kind === "symlink")
      return { state: "replaced", detail: `${describeType(info)}, not ${expected.kind === "symlink" ? `a symlink to ${expected.target}` : "a copy"}` };
    const copy = openRegularFileIn(parent, name, expected.path);
    if (isBlocked(copy)) return fromBlocked(copy);
    try {
      return compareCopy(context, expected, copy);
    } finally {
      closeSync(copy.fd);
    }
  } finally {
    parent.close();
  }
}

/** A copy is right when it is one file (one link) with the generation file's owner, group, mode and content. */
function compareCopy(context: StatusContext, expected: ExpectedPath, copy: OpenFile): { state: CustomPathRow["state"]; detail: string } {
  const { currentDirectory } = context;
  if (currentDirectory === null) return { state: "unknown", detail: "no generation is current to compare the copy with" };
  if (isBlocked(currentDirectory)) return { state: "unknown", detail: currentDirectory.reason };
  const original = openSecret(currentDirectory, expected.secret);
  if (isBlocked(original)) {
    if (original.blocked === "missing") return { state: "differs", detail: `generation ${context.current} has no secret ${expected.secret} to be a copy of` };
    return { state: "unknown", detail: `${original.reason}; cannot compare the copy` };
  }
  try {
    const differences: string[] = [];
    const [mine, theirs] = [copy.info, original.info];
    if (mine.nlink !== 1) differences.push(`it has ${mine.nlink} links`);
    if (mine.uid !== theirs.uid || mine.gid !== theirs.gid) differences.push(`owner ${mine.uid}:${mine.gid}, the secret's is ${theirs.uid}:${theirs.gid}`);
    if ((mine.mode & 0o7777) !== (theirs.mode & 0o7777)) differences.push(`mode ${formatMode(mine.mode)}, the secret's is ${formatMode(theirs.mode)}`);
    if (mine.size !== theirs.size) differences.push("its content is not the secret's");
    else if (mine.size > MAX_COMPARED_BYTES) {
      const notCompared = `content not compared: larger than ${MAX_COMPARED_BYTES / 1024 / 1024} MiB (${mine.size} bytes)`;
      return differences.length === 0 ? { state: "unknown", detail: notCompared } : { state: "differs", detail: [...differences, notCompared].join(", ") };
    } else if (!sameContent(copy.fd, original.fd, mine.size)) differences.push("its content is not the secret's");
    return differences.length === 0 ? { state: "ok", detail: "content identical" } : { state: "differs", detail: differences.join(", ") };
  } finally {
    closeSync(original.fd);
  }
}

/**
 * Byte by byte, a chunk at a time, `size` bytes (both files had that size when
 * opened) and never more: a file grown since is read no further, and a file
 * shrunk since differs. Only the answer leaves this function: both buffers
 * are zeroed before it returns.
 */
function sameContent(a: number, b: number, size: number): boolean {
  const left = Buffer.alloc(COMPARE_CHUNK);
  const right = Buffer.alloc(COMPARE_CHUNK);
  try {
    for (let position = 0; position < size; position += COMPARE_CHUNK) {
      const wanted = Math.min(COMPARE_CHUNK, size - position);
      const readLeft = readFully(a, left.subarray(0, wanted), position);
      const readRight = readFully(b, right.subarray(0, wanted), position);
      if (readLeft !== wanted || readRight !== wanted || !left.subarray(0, wanted).equals(right.subarray(0, wanted))) return false;
    }
    return true;
  } finally {
    left.fill(0);
    right.fill(0);
  }
}

function fromBlocked(blocked: Blocked): { state: CustomPathRow["state"]; detail: string } {
  if (blocked.blocked === "missing") return { state: "missing", detail: blocked.reason };
  if (blocked.blocked === "denied") return { state: "unknown", detail: blocked.reason };
  return { state: "replaced", detail: blocked.reason };
}

/** A reason that starts with the path its finding is already about, without it. */
function withoutPrefix(text: string, prefix: string): string {
  return text.startsWith(prefix) ? text.slice(prefix.length) : text;
}
