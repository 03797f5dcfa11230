import { requireTools } from "./require-tools.js";

/** Global setup of the system tier: the nspawn boot and systemd's own checks of the unit. */
export default function requireSystemTools(): void {
  requireTools(["age", "ssh-keygen", "mount", "umount", "chroot", "systemd-nspawn", "systemd-analyze", "debootstrap", "nix-instantiate", "patchelf", "ldd"]);
}
