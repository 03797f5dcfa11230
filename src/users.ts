import { readFileSync } from "node:fs";
import { NssLookups } from "./nss-lookups.js";

export interface UserEntry {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Resolves owner and group names to ids the way a service manager would:
 * /etc/passwd and /etc/group first (read once), then `getent` for users and
 * groups that NSS provides (LDAP, systemd's dynamic users, ...) when the
 * host's NSS has any source beyond those files (./nss-sources.ts), each asked
 * once per run within a time budget (./nss-lookups.ts). Numeric ids are taken
 * as they are, as chown(1) does.
 */
export class UserDatabase {
  private readonly nss = new NssLookups();
  /** Why a name is unknown, when it is not simply absent (NSS did not answer in time). */
  private readonly missingReasons = new Map<string, string>();

  private constructor(
    private readonly users: Map<string, UserEntry>,
    private readonly groups: Map<string, number>,
  ) {}

  /** Said after a user or group name that user() or group() did not find: "does not exist", or why it could not be looked up. */
  whyMissing(database: "passwd" | "group", name: string): string {
    return this.missingReasons.get(`${database}\0${name}`) ?? "does not exist";
  }

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
      const byId = [...this.users.values()].find((entry) => entry.uid === uid) ?? (await this.getentUser(nameOrId));
      // A numeric owner without a passwd entry is allowed; its group defaults to root.
      return byId ? { uid, gid: byId.gid } : { uid, gid: 0 };
    }
    const fromNss = await this.getentUser(nameOrId);
    if (fromNss) this.users.set(nameOrId, fromNss);
    return fromNss;
  }

  /** The group's gid, or null when no such group exists. */
  async group(nameOrId: string): Promise<number | null> {
    if (isId(nameOrId)) return Number(nameOrId);
    const known = this.groups.get(nameOrId);
    if (known !== undefined) return known;
    const gid = await this.getentGroup(nameOrId);
    if (gid !== null) this.groups.set(nameOrId, gid);
    return gid;
  }

  /** `getent passwd NAME`: the user's uid and primary gid, or null when unknown. */
  private async getentUser(name: string): Promise<UserEntry | null> {
    const [, , uid, gid] = await this.getentFields("passwd", name);
    return isId(uid) && isId(gid) ? { uid: Number(uid), gid: Number(gid) } : null;
  }

  /** `getent group NAME`: the group's gid, or null when unknown. */
  private async getentGroup(name: string): Promise<number | null> {
    const [, , gid] = await this.getentFields("group", name);
    return isId(gid) ? Number(gid) : null;
  }

  private async getentFields(database: "passwd" | "group", name: string): Promise<readonly string[]> {
    const answer = await this.nss.lookup(database, name);
    if ("fields" in answer) return answer.fields;
    if (answer.missing !== "does not exist") this.missingReasons.set(`${database}\0${name}`, answer.missing);
    return [];
  }
}

/** Whether an owner or group is written as a numeric id (as chown(1) takes it) rather than a name. */
export function isId(text: string | undefined): text is string {
  return text !== undefined && /^\d{1,10}$/.test(text) && Number(text) < 2 ** 32 - 1;
}

function readColonFile(path: string): string[][] {
  try {
    const text = readFileSync(path, "utf8");
    return text
      .split("\n")
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => line.split(":"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}
