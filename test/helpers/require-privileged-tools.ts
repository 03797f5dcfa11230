import { requireTools } from "./require-tools.js";

/** Global setup of the privileged tier: what its tests run besides the built CLI. */
export default function requirePrivilegedTools(): void {
  requireTools(["age", "age-keygen", "ssh-keygen", "flock", "unshare", "setpriv", "mount", "umount", "mkfifo", "systemd-notify", "python3", "nix-instantiate", "chattr"]);
}
