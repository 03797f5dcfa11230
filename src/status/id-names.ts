import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { NssLookups } from "../nss-lookups.js";
import type { Principal } from "./report.js";

/** A user database is configuration; a larger file is not read. */
const MAX_DATABASE_BYTES = 16 * 1024 * 1024;
/** Status is asked by people waiting at a terminal: NSS gets a short budget in all. */
const NSS_BUDGET_MS = 3_000;

/**
 * Names for the uids and gids status finds on files: /etc/passwd and
 * /etc/group first (read once), then NSS (`getent passwd 1000` answers by id
 * too), each id asked once, within a small time budget. An id without a name
 * is shown as a number, as ls(1) does.
 */
export class IdNames {
  private readonly nss = new NssLookups(NSS_BUDGET_MS);

  private constructor(
    private readonly users: Map<number, string>,
    private readonly groups: Map<number, string>,
  ) {}

  static load(passwdPath = "/etc/passwd", groupPath = "/etc/group"): IdNames {
    return new IdNames(namesById(passwdPath), namesById(groupPath));
  }

  async user(uid: number): Promise<Principal> {
    return { id: uid, name: await this.name("passwd", uid, this.users) };
  }

  async group(gid: number): Promise<Principal> {
    return { id: gid, name: await this.name("group", gid, this.groups) };
  }

  private async name(database: "passwd" | "group", id: number, known: Map<number, string>): Promise<string | null> {
    const found = known.get(id);
    if (found !== undefined) return found;
    const answer = await this.nss.lookup(database, String(id));
    const name = "fields" in answer && answer.fields[2] === String(id) ? (answer.fields[0] ?? null) : null;
    if (name !== null) known.set(id, name);
    return name || null;
  }
}

/** The first name each id has in a passwd or group file (name:x:id:...). */
function namesById(path: string): Map<number, string> {
  const names = new Map<number, string>();
  let text: string;
  try {
    const fd = openSync(path, "r");
    try {
      if (fstatSync(fd).size > MAX_DATABASE_BYTES) return names;
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return names;
  }
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [name, , id] = line.split(":");
    if (name && id !== undefined && /^\d{1,10}$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
  }
  return names;
}
