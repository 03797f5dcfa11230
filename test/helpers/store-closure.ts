import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, realpathSync, symlinkSync } from "node:fs";
import { createHash } from "node:crypto";
import { basename, join } from "node:path";

/** The letters of Nix's base-32 (no e, o, u, t): store paths look like the real ones. */
const NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz";

/** A store path /nix/store/<32 letters>-<name>, the letters from the name (the same name, the same path). */
export function storePath(name: string): string {
  const digest = createHash("sha256").update(name).digest();
  let hash = "";
  for (let i = 0; i < 32; i++) hash += NIX_BASE32[digest[i]! % 32];
  return `/nix/store/${hash}-${name}`;
}

/** The shared libraries `ldd` names for `executable` (the dynamic loader included), by the names it asks for, and their files. */
function sharedLibraries(executable: string): Array<{ name: string; file: string }> {
  const libraries: Array<{ name: string; file: string }> = [];
  for (const line of execFileSync("ldd", [executable], { encoding: "utf8" }).split("\n")) {
    const linked = /^\s*(\S+) => (\/\S+) \(/.exec(line);
    const loader = /^\s*(\/\S+) \(/.exec(line);
    if (linked) libraries.push({ name: linked[1]!, file: linked[2]! });
    else if (loader) libraries.push({ name: basename(loader[1]!), file: loader[1]! });
  }
  return libraries;
}

/**
 * Copies host executables (Debian's) into `root`/nix/store/<hash>-`name`/bin with
 * the shared libraries they need (per ldd) in its lib/, as a Nix package holds
 * them: patchelf points each executable's loader at that lib/ and gives it an
 * RPATH there (DT_RPATH, which also serves the libraries' own dependencies), so
 * that nothing outside the store is read when they run. The loader is the
 * host's glibc, copied; a real closure has glibc in a store path of its own.
 * `links` adds symlinks in bin/ (bash's `sh`). Returns the store path (as seen inside the root).
 */
export function copyIntoStore(root: string, name: string, executables: Record<string, string>, links: Record<string, string> = {}): string {
  const store = storePath(name);
  const bin = join(root, store, "bin");
  const lib = join(root, store, "lib");
  mkdirSync(bin, { recursive: true });
  mkdirSync(lib, { recursive: true });
  let loaderName: string | undefined;
  for (const [target, source] of Object.entries(executables)) {
    const file = realpathSync(source);
    for (const library of sharedLibraries(file)) {
      copyFileSync(realpathSync(library.file), join(lib, library.name));
      chmodSync(join(lib, library.name), 0o555);
      if (library.name.startsWith("ld-linux")) loaderName = library.name;
    }
    copyFileSync(file, join(bin, target));
    chmodSync(join(bin, target), 0o755);
    if (loaderName === undefined) throw new Error(`${source}: ldd names no dynamic loader`);
    execFileSync("patchelf", ["--set-interpreter", `${store}/lib/${loaderName}`, "--force-rpath", "--set-rpath", `${store}/lib`, join(bin, target)]);
    chmodSync(join(bin, target), 0o555);
  }
  for (const [link, target] of Object.entries(links)) symlinkSync(target, join(bin, link));
  return store;
}
