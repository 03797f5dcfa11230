import type { Logger } from "../log.js";
import type { UserEnvironment } from "../user/environment.js";
import { prepareUserSecretsDirectory } from "../user/runtime-directory.js";
import type { UserDatabase } from "../users.js";
import { ensureSecretsMount } from "./mount.js";
import type { Ownership } from "./write-exclusive.js";

/**
 * Whose secrets a run installs, and so what the two steps that differ do: the
 * host's (root: a noswap tmpfs or a ramfs mounted, directories given to group "keys", any owner),
 * or one user's (`activate --user`: no mount, their $XDG_RUNTIME_DIR tmpfs;
 * every file theirs). Every other step of src/activate.ts is the same for both.
 */
export interface HostContext {
  /** The group the mount point and generations belong to (agenix's "keys"), or null: left as created. */
  directoryGroup(users: UserDatabase): Promise<number | null>;
  /** Why a secret cannot have this owner, group and mode here, or null. */
  ownershipProblem(ownership: Ownership): string | null;
  /** Step 4: make sure plaintext can land only in memory at `mountPoint`; resolves whether this run mounted it. */
  prepareMount(mountPoint: string, options: { allowPlainDirectory: boolean; keysGid: number | null; secretsDir?: string }, log: Logger): Promise<{ mountedHere: boolean }>;
}

/** The host's secrets, as root: the activation as it always was. */
export const SYSTEM_HOST: HostContext = {
  directoryGroup: (users) => users.group("keys"),
  ownershipProblem: () => null,
  prepareMount: (mountPoint, options, log) => ensureSecretsMount(mountPoint, options, log),
};

/** One user's own secrets, with that user's privileges only (docs/home-manager.md). */
export function userHost(user: UserEnvironment): HostContext {
  return {
    directoryGroup: async () => null,
    ownershipProblem: ({ uid, gid }) => {
      if (uid !== user.uid) return `owner is uid ${uid}, not you (uid ${user.uid}): with --user every secret is yours; leave "owner" unset`;
      if (!user.gids.includes(gid)) return `group is gid ${gid}, which you (uid ${user.uid}) are not a member of; leave "group" unset for your primary group`;
      return null;
    },
    prepareMount: async (mountPoint) => {
      prepareUserSecretsDirectory(mountPoint, user);
      return { mountedHere: false };
    },
  };
}
