import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface UserEntry {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Resolves owner and group names to ids the way a service manager would:
 * /etc/passwd and /etc/group first (read once), then `getent` for users and
 * groups that NSS provides (LDAP, systemd's dynamic users, ...). Numeric ids
 * are taken as they are, as chown(1) does.
 */
export class UserDatabase {
  private constructor(
    private readonly users: Map<string, UserEntry>,
    private readonly groups: Map<string, number>,
  ) {}

  static load(passwdPath = "/etc/passwd", groupPath = "/etc/group"): UserDatabase {
    const users = new Map<string, UserEntry>();
    for (const fields of readColonFile(passwdPath)) {
      const [name, , uid, gid] = fields;
      if (name && isId(uid) && isId(gid) && !users.has(name)) users.set(name, { uid: Number(uid), gid: Number(gid) });
    }
    const groups = new Map<string, number>();
    for (const fields of readColonFile(groupPath)) {
      const [name, , gid] = fields;
      if (name && isId(gid) && !groups.has(name)) groups.set(name, Number(gid));
    }
    return new UserDatabase(users, groups);
  }

  /** The user's uid and primary gid, or null when no such user exists. */
  async user(nameOrId: string): Promise<UserEntry | null> {
    const known = this.users.get(nameOrId);
    if (known) return known;
    if (isId(nameOrId)) {
      const uid = Number(nameOrId);
      const byId = [...this.users.values()].find((entry) => entry.uid === uid) ?? (await getentUser(nameOrId));
      // A numeric owner without a passwd entry is allowed; its group defaults to root.
      return byId ? { uid, gid: byId.gid } : { uid, gid: 0 };
    }
    const fromNss = await getentUser(nameOrId);
    if (fromNss) this.users.set(nameOrId, fromNss);
    return fromNss;
  }

  /** The group's gid, or null when no such group exists. */
  async group(nameOrId: string): Promise<number | null> {
    if (isId(nameOrId)) return Number(nameOrId);
    const known = this.groups.get(nameOrId);
    if (known !== undefined) return known;
    const gid = await getentGroup(nameOrId);
    if (gid !== null) this.groups.set(nameOrId, gid);
    return gid;
  }
}

function isId(text: string | undefined): text is string {
  return text !== undefined && /^\d{1,10}$/.test(text) && Number(text) < 2 ** 32 - 1;
}

function readColonFile(path: string): string[][] {
  try {
    const text = readFileSync(path, "utf8");
    return text.split("\n").filter((line) => line && !line.startsWith("#")).map((line) => line.split(":"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** `getent passwd NAME`: the user's uid and primary gid, or null when unknown. */
async function getentUser(name: string): Promise<UserEntry | null> {
  const [, , uid, gid] = await getentFields("passwd", name);
  return isId(uid) && isId(gid) ? { uid: Number(uid), gid: Number(gid) } : null;
}

/** `getent group NAME`: the group's gid, or null when unknown. */
async function getentGroup(name: string): Promise<number | null> {
  const [, , gid] = await getentFields("group", name);
  return isId(gid) ? Number(gid) : null;
}

/** The colon-separated fields of the first line getent prints; none when the entry is unknown or getent is missing. */
async function getentFields(database: "passwd" | "group", name: string): Promise<string[]> {
  try {
    const { stdout } = await run("getent", [database, name], { timeout: 10_000 });
    return stdout.split("\n")[0]?.split(":") ?? [];
  } catch {
    return []; // exit 2: no such entry
  }
}
