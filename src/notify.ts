import notify from "systemd-notify";
import type { Logger } from "./log.js";

/**
 * Progress for `systemctl status` (sd_notify STATUS=), through the
 * systemd-notify package. Only under systemd (NOTIFY_SOCKET set); a failure to
 * notify is logged at debug level and never fails the run. The package runs
 * systemd-notify(1) as a child, so the unit needs NotifyAccess=all.
 */
export function statusNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): (status: string) => Promise<void> {
  if (!env["NOTIFY_SOCKET"]) return async () => {};
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
