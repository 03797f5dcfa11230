import { lstatSync } from "node:fs";
import { dirname } from "node:path";
import notify from "systemd-notify";
import type { Logger } from "./log.js";

/**
 * Progress for `systemctl status` (sd_notify STATUS=), through the
 * systemd-notify package. Only under systemd (NOTIFY_SOCKET set); a failure to
 * notify is logged at debug level and never fails the run. The package runs
 * systemd-notify(1) as a child, so the unit needs NotifyAccess=all.
 */
export function statusNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): (status: string) => Promise<void> {
  const socket = env["NOTIFY_SOCKET"];
  if (!socket) return async () => {};
  if (!managersSocket(socket, process.geteuid?.() ?? 0)) {
    log.debug(`NOTIFY_SOCKET ${JSON.stringify(socket.slice(0, 200))} is not a socket of this user's service manager: no sd_notify`);
    return async () => {};
  }
  const pid = mainPid(env);
  return async (status) => {
    try {
      await notify({ status, pid });
    } catch (error) {
      log.debug(`sd_notify STATUS failed: ${String(error)}`);
    }
  };
}

/**
 * The PID to send as MAINPID= (the package always sends one): the unit's main
 * process. That is the launcher (dist/ageboot), which says so in AGEBOOT_MAIN_PID:
 * this process when node replaced it (exec, as it does now), or our parent when
 * a launcher waits for node; otherwise this process. Naming a process that
 * is not systemd's own child makes systemd "supervise" a PID whose exit it may
 * never see, and the unit hangs in "activating" (found by the boot test).
 */
export function mainPid(env: NodeJS.ProcessEnv = process.env): number {
  const announced = Number(env["AGEBOOT_MAIN_PID"]);
  return announced === process.ppid || announced === process.pid ? announced : process.pid;
}

/**
 * Whether NOTIFY_SOCKET can be the service manager's: a socket that, like its
 * directory, belongs to root or to this user and no one else can write or
 * replace. systemd-notify(1) waits until the socket takes each datagram, and
 * the launcher passes NOTIFY_SOCKET on (systemd sets it); under `sudo -E` a
 * user's own socket that stops reading would hang root's run, lock held, for
 * as long as they like (outside attack, issue 22). An abstract socket (@...)
 * has no owner to check: root never uses one (systemd's is /run/systemd/notify).
 */
export function managersSocket(socket: string, euid: number): boolean {
  if (socket.startsWith("@")) return euid !== 0;
  if (!socket.startsWith("/")) return false;
  try {
    const entry = lstatSync(socket);
    const directory = lstatSync(dirname(socket));
    const ours = (uid: number) => uid === 0 || uid === euid;
    return entry.isSocket() && ours(entry.uid) && directory.isDirectory() && ours(directory.uid) && (directory.mode & 0o022) === 0;
  } catch {
    return false;
  }
}
