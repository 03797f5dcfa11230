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
      const byId = [...this.users.values()].find((entry) => entry.uid === uid) ?? (await getent("passwd", nameOrId));
      // A numeric owner without a passwd entry is allowed; its group defaults to root.
      return byId ? { uid, gid: byId.gid } : { uid, gid: 0 };
    }
    const fromNss = await getent("passwd", nameOrId);
    if (fromNss) this.users.set(nameOrId, fromNss);
    return fromNss;
  }

  /** The group's gid, or null when no such group exists. */
  async group(nameOrId: string): Promise<number | null> {
    if (isId(nameOrId)) return Number(nameOrId);
    const known = this.groups.get(nameOrId);
    if (known !== undefined) return known;
    const fromNss = await getent("group", nameOrId);
    if (fromNss) this.groups.set(nameOrId, fromNss.uid);
    return fromNss?.uid ?? null;
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

/** `getent passwd NAME` -> {uid, gid}; `getent group NAME` -> {uid: gid}. Null when unknown or getent is missing. */
async function getent(database: "passwd" | "group", name: string): Promise<UserEntry | null> {
  try {
    const { stdout } = await run("getent", [database, name], { timeout: 10_000 });
    const fields = stdout.split("\n")[0]?.split(":") ?? [];
    const id = fields[2];
    const gid = database === "passwd" ? fields[3] : fields[2];
    return isId(id) && isId(gid) ? { uid: Number(id), gid: Number(gid) } : null;
  } catch {
    return null; // exit 2: no such entry
  }
}
