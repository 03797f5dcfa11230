import { basename, dirname, join } from "node:path";

/**
 * The lock file that serialises runs on `mountPoint`: beside it, not inside it
 * (docs/activation.md says why). Here, because a custom path must never be it.
 */
export function lockFilePath(mountPoint: string): string {
  return join(dirname(mountPoint), `.${basename(mountPoint)}.lock`);
}

/**
 * Paths no custom path may be or lie under, whatever the manifest says, each
 * with the reason given in the error. ageboot replaces a custom path by rename
 * (a symlink into the secrets, or a root-written copy), so a mistyped or
 * copied-and-pasted `path` would otherwise replace a file the system depends on.
 * The list is short on purpose: files whose replacement locks people out, hands
 * out privileges or runs code in every process, and kernel file systems.
 */
const SYSTEM_PATHS: ReadonlyArray<readonly [string, string]> = [
  // Kernel and device file systems: not files at all; writing there configures the kernel or a device.
  ["/proc", "a kernel file system"],
  ["/sys", "a kernel file system"],
  ["/dev", "device nodes and shared memory, not a place for secrets (use /run)"],
  // The account databases: replacing one breaks every name lookup and login,
  // or lets the secret's content define accounts and password hashes.
  ["/etc/passwd", "the user database"],
  ["/etc/shadow", "the password database"],
  ["/etc/group", "the group database"],
  ["/etc/gshadow", "the group password database"],
  ["/etc/subuid", "subordinate user ids (user namespaces)"],
  ["/etc/subgid", "subordinate group ids (user namespaces)"],
  ["/etc/nsswitch.conf", "where every user and group lookup goes"],
  // Who may become root.
  ["/etc/sudoers", "sudo's policy: who may become root"],
  ["/etc/sudoers.d", "sudo's policy: who may become root"],
  ["/etc/doas.conf", "doas's policy: who may become root"],
  ["/etc/pam.d", "how every login authenticates"],
  ["/etc/security", "PAM's access and limits policy"],
  // Code loaded into every dynamically linked process, root's included.
  ["/etc/ld.so.preload", "libraries loaded into every process"],
  ["/etc/ld.so.conf", "where every process finds its libraries"],
  ["/etc/ld.so.conf.d", "where every process finds its libraries"],
  ["/etc/ld.so.cache", "where every process finds its libraries"],
  // Immutable by design; a write there corrupts the store every system is built from.
  ["/nix/store", "the Nix store, immutable"],
];

/**
 * Symlinks every path through them resolves by, which no custom path may be:
 * one made there would replace the link, and every path through it would then
 * lead into a secret. What lies beyond them is not refused for that (a path
 * under /var/run is a path under /run), so they are refused as themselves only.
 */
const SYSTEM_LINKS: ReadonlyArray<readonly [string, string]> = [
  ["/var/run", "the link to /run that many programs' sockets and pid files go through"],
  ["/var/lock", "the link to /run/lock that many programs' lock files go through"],
  // NixOS (nixos/modules/system/etc/etc.nix): every file of environment.etc is a link through /etc/static.
  ["/etc/static", "NixOS's link to the current system's /etc, through which every file it puts in /etc resolves"],
];

/** Places a custom path may not be (though it may lie beyond them), each with why: ./forbidden-paths.ts SYSTEM_LINKS. */
export function forbiddenLinks(): ReadonlyArray<readonly [string, string]> {
  return SYSTEM_LINKS;
}

/**
 * agenix's default secretsDir and mount point, and the lock beside that mount:
 * another manifest (agenix itself, or a second ageboot) may own them, and a
 * custom path there would be overwritten by, or overwrite, its generations.
 * Other manifests' directories cannot be known; these are the ones everybody has.
 */
const AGENIX_DEFAULTS: ReadonlyArray<readonly [string, string]> = [
  ["/run/agenix", "agenix's default secretsDir (another manifest's secrets)"],
  ["/run/agenix.d", "agenix's default secrets mount point (another manifest's generations)"],
  [lockFilePath("/run/agenix.d"), "the lock file of agenix's default mount point"],
];

export interface ManifestPaths {
  readonly secretsDir: string;
  readonly secretsMountPoint: string;
  readonly identityPaths: readonly string[];
}

/**
 * Why `path` cannot be a custom path, or null. It is refused when it is, or
 * lies under, one of this manifest's own places (secretsDir, the mount point,
 * the lock file, an identity path: ageboot's own state and the host's keys), a
 * system path above, or agenix's default places.
 */
export function forbiddenCustomPathReason(path: string, manifest: ManifestPaths): string | null {
  for (const [place, what] of forbiddenPlaces(manifest)) {
    if (path === place) return `must not be ${place}: ${what}`;
    if (path.startsWith(`${place}/`)) return `must not be under ${place}: ${what}`;
  }
  for (const [link, what] of SYSTEM_LINKS) if (path === link) return `must not be ${link}: ${what}`;
  return null;
}

/**
 * Every place no custom path may be or lie under, each with why, as written:
 * compared as strings here, at validation, and again by the activation on the
 * directories it walks (src/activation/forbidden-places.ts), where an alias
 * through a symlink or a bind mount is caught too.
 */
export function forbiddenPlaces(manifest: ManifestPaths): Array<readonly [string, string]> {
  return [
    [manifest.secretsDir, "secretsDir"],
    [manifest.secretsMountPoint, "secretsMountPoint"],
    [lockFilePath(manifest.secretsMountPoint), "the lock file of secretsMountPoint"],
    ...manifest.identityPaths.map((identity) => [identity, "an identity path (the host's key)"] as const),
    ...SYSTEM_PATHS,
    ...AGENIX_DEFAULTS,
  ];
}
