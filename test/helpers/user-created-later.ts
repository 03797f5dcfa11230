import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A user (with a group of the same name and id) that does not exist until a test creates it. */
export interface LaterUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * A passwd and a group file in `directory`: this host's, plus `user`, as NixOS's
 * `users` activation step would leave them. Bind-mounted over /etc/passwd and
 * /etc/group (in the tests' private mount namespace) they make the user exist.
 */
export function accountFilesWith(directory: string, user: LaterUser): { passwd: string; group: string } {
  const passwd = join(directory, `passwd-with-${user.name}`);
  const group = join(directory, `group-with-${user.name}`);
  writeFileSync(passwd, `${readFileSync("/etc/passwd", "utf8")}${user.name}:x:${user.uid}:${user.gid}::/nonexistent:/usr/sbin/nologin\n`);
  writeFileSync(group, `${readFileSync("/etc/group", "utf8")}${user.name}:x:${user.gid}:\n`);
  return { passwd, group };
}

/** Runs `body` while `user` exists (account files from accountFilesWith, bound over /etc), then unbinds them. */
export function whileUserExists<T>(directory: string, user: LaterUser, body: () => T): T {
  const { passwd, group } = accountFilesWith(directory, user);
  execFileSync("mount", ["--bind", passwd, "/etc/passwd"]);
  try {
    execFileSync("mount", ["--bind", group, "/etc/group"]);
    try {
      return body();
    } finally {
      spawnSync("umount", ["/etc/group"]);
    }
  } finally {
    spawnSync("umount", ["/etc/passwd"]);
  }
}
