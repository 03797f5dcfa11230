import { execFileSync } from "node:child_process";
import { fstatSync } from "node:fs";
import type { HeldDirectory } from "../activation/held-directory.js";
import { inArgumentLists, regularFilesIn } from "../activation/immutable.js";
import { mountedFilesystemAt } from "../activation/mount.js";
import type { Finding } from "./report.js";

/** Mutable files named in the finding at most; the rest counted. */
const NAMED_AT_MOST = 10;

/**
 * Whether the current generation is sealed as every run leaves it: open (0751)
 * and, where files are made immutable (root, tmpfs), every regular file
 * immutable. A generation left closed, or with a mutable file, is what a run
 * killed partway leaves (reatk N2): a mutable file's owner can make it writable
 * and fill the mount. The flags are read with one lsattr per argument list (as chattr sets them)
 * (Node's stat has no file attributes), as root only: only root set them, and
 * lsattr must open each file.
 */
export function sealedGenerationFindings(directory: HeldDirectory, mountPoint: string, asRoot: boolean): Finding[] {
  const findings: Finding[] = [];
  const mode = fstatSync(directory.fd).mode & 0o7777;
  if (mode !== 0o751) {
    findings.push({
      severity: "problem",
      subject: "generations",
      message: `the current generation ${directory.path} is mode 0${mode.toString(8)}, not 0751: a run did not finish (services cannot read it); run ageboot chown or activate again`,
    });
  }
  if (!asRoot || mountedFilesystemAt(mountPoint) !== "tmpfs") return findings;
  // Through the held descriptor, named by this process's pid: lsattr's /proc/self is lsattr.
  const self = directory.self;
  const held = `/proc/${process.pid}/fd/${directory.fd}`;
  const files = regularFilesIn(self).map((path) => held + path.slice(self.length));
  const mutable: string[] = [];
  try {
    for (const list of inArgumentLists(files)) {
      const output = execFileSync("lsattr", ["-d", "--", ...list], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
        maxBuffer: 64 << 20,
      });
      for (const line of output.split("\n")) {
        const space = line.indexOf(" ");
        if (space > 0 && !line.slice(0, space).includes("i")) mutable.push(line.slice(space + 1));
      }
    }
  } catch {
    findings.push({ severity: "unchecked", subject: "generations", message: "could not read the files' immutable flags (lsattr from e2fsprogs)" });
    return findings;
  }
  if (mutable.length > 0) {
    const prefix = `${held}/`;
    const names = mutable.slice(0, NAMED_AT_MOST).map((path) => (path.startsWith(prefix) ? path.slice(prefix.length) : path));
    findings.push({
      severity: "problem",
      subject: "generations",
      message: `${mutable.length} file${mutable.length === 1 ? "" : "s"} of the current generation not immutable (${names.join(", ")}${mutable.length > NAMED_AT_MOST ? ", ..." : ""}): their owners can make them writable and fill the mount; run ageboot chown or activate again`,
    });
  }
  return findings;
}
