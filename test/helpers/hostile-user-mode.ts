import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { placeholderFor } from "../../src/templates/placeholder.js";
import type { TestHost } from "./host.js";
import { sshKeygen } from "./tools.js";

interface User {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** alice's session for `activate --user` on a pretend host: her home and SSH key, her runtime tmpfs (as systemd-logind mounts it). */
export interface UserSession {
  readonly home: string;
  readonly runtimeDir: string;
  readonly key: string;
  readonly manifest: string;
}

export function newUserSession(host: TestHost, user: User): UserSession {
  chmodSync(host.root, 0o755); // the users must reach their homes and the encrypted files
  const home = join(host.root, `home/${user.name}`);
  mkdirSync(join(home, ".ssh"), { recursive: true });
  const key = sshKeygen(join(home, ".ssh"), "id_ed25519", "ed25519");
  for (const path of [home, join(home, ".ssh"), key, `${key}.pub`]) chownSync(path, user.uid, user.gid);
  chmodSync(home, 0o700);
  const runtimeDir = join(host.root, `run/user/${user.uid}`);
  mkdirSync(runtimeDir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=4m,mode=0700,uid=${user.uid},gid=${user.gid},nodev,nosuid`, "tmpfs", runtimeDir]);
  return { home, runtimeDir, key, manifest: join(host.root, `user-manifest-${user.name}.json`) };
}

/**
 * The hostile corpus of the user mode (issue 22, item 6): what another local
 * user (bob), or a manifest asking for more than the user's own rights, can
 * try against `activate --user` run by alice. `item` is added to a manifest
 * that also holds her good secret; `expect` says what must happen: the item
 * fails and her current generation stays ("item fails"), or the custom path
 * fails, the secrets are installed and nothing appears where it pointed
 * ("path refused"; `untouched` must then be empty or missing).
 */
export interface HostileUserCase {
  readonly name: string;
  readonly kind: "secret" | "template";
  readonly expect: "item fails" | "path refused";
  readonly message: RegExp;
  build(context: { session: UserSession; bob: User; dir: string; encrypt: (value: string) => string }): { item: Record<string, unknown>; untouched?: string };
}

function bobsDirectory(dir: string, bob: User, mode = 0o755): string {
  const theirs = join(dir, `bob-${Math.random().toString(36).slice(2)}`);
  mkdirSync(theirs, { mode });
  chmodSync(theirs, mode);
  chownSync(theirs, bob.uid, bob.gid);
  return theirs;
}

export const hostileUserCases: readonly HostileUserCase[] = [
  {
    name: "a ciphertext file bob owns (he would choose what she decrypts)",
    kind: "secret",
    expect: "item fails",
    message: /refusing to decrypt it|other than root/,
    build: ({ bob, dir, encrypt }) => {
      const file = join(bobsDirectory(dir, bob), "s.age");
      execFileSync("cp", [encrypt("bobs-choice"), file]);
      chownSync(file, bob.uid, bob.gid);
      return { item: { file } };
    },
  },
  {
    name: "a template file bob owns (he would choose which of her secrets go where)",
    kind: "template",
    expect: "item fails",
    message: /refusing to render it/,
    build: ({ bob, dir }) => {
      const file = join(bobsDirectory(dir, bob), "t.tmpl");
      writeFileSync(file, `x=${placeholderFor("good")}`);
      chownSync(file, bob.uid, bob.gid);
      return { item: { file } };
    },
  },
  {
    name: "a secret given to root",
    kind: "secret",
    expect: "item fails",
    message: /not you .*with --user every secret is yours/,
    build: ({ encrypt }) => ({ item: { file: encrypt("for-root"), owner: "root" } }),
  },
  {
    name: "a template given to bob",
    kind: "template",
    expect: "item fails",
    message: /not you .*with --user every secret is yours/,
    build: ({ bob }) => ({ item: { content: `x=${placeholderFor("good")}`, owner: bob.name } }),
  },
  {
    name: "a custom path in bob's directory",
    kind: "secret",
    expect: "path refused",
    message: /neither root nor the secret's owner/,
    build: ({ bob, dir, encrypt }) => {
      const theirs = bobsDirectory(dir, bob, 0o777);
      return { item: { file: encrypt("x"), path: join(theirs, "x") }, untouched: theirs };
    },
  },
  {
    name: "a template's custom path through her own symlink to bob's directory",
    kind: "template",
    expect: "path refused",
    message: /a symlink in .* which a user other than root can write to/,
    build: ({ session, bob, dir }) => {
      const theirs = bobsDirectory(dir, bob);
      const link = join(session.home, "to-bob");
      symlinkSync(theirs, link);
      return { item: { content: `x=${placeholderFor("good")}`, path: join(link, "t") }, untouched: theirs };
    },
  },
  {
    name: "a custom path through her own alias of her secretsDir",
    kind: "secret",
    expect: "path refused",
    message: /a symlink in .* which a user other than root can write to|through an alias/,
    build: ({ session, encrypt }) => {
      const link = join(session.home, "rt");
      symlinkSync(session.runtimeDir, link);
      return { item: { file: encrypt("x"), path: join(link, "agenix/x") } };
    },
  },
];
