// The manifest as `activate --user` reads it (src/user/manifest.ts): agenix's
// home-manager defaults, a leading $XDG_RUNTIME_DIR / $HOME / ~ expanded and
// nothing else, and secrets kept inside the runtime directory.
import { describe, expect, it } from "vitest";
import { validateManifest } from "../../src/manifest/validate.js";
import type { UserEnvironment } from "../../src/user/environment.js";
import { expandUserPaths, userManifestDefaults, userPlacementProblems } from "../../src/user/manifest.js";

const user: UserEnvironment = { uid: 1000, gid: 100, gids: [100, 27], home: "/home/alice", runtimeDir: "/run/user/1000", configHome: "/home/alice/.config" };

function load(document: Record<string, unknown>) {
  const result = validateManifest(expandUserPaths({ version: 1, ...document }, user), userManifestDefaults(user));
  if ("problems" in result) throw new Error(result.problems.join("; "));
  return result.manifest;
}

describe("activate --user manifests", () => {
  it("default to agenix's home-manager paths, the user's SSH keys, and the user as owner", () => {
    const manifest = load({ secrets: { token: { file: "/nix/store/x-token.age" } } });
    expect(manifest.secretsDir).toBe("/run/user/1000/agenix");
    expect(manifest.secretsMountPoint).toBe("/run/user/1000/agenix.d");
    expect(manifest.identityPaths).toEqual(["/home/alice/.ssh/id_ed25519", "/home/alice/.ssh/id_rsa"]);
    expect(manifest.secrets[0]).toMatchObject({ path: "/run/user/1000/agenix/token", owner: "1000", group: "100", mode: 0o400 });
    expect(userPlacementProblems(manifest, user)).toEqual([]);
  });

  it("expand a leading $XDG_RUNTIME_DIR, $HOME or ~, braced or not, as agenix's module leaves them for the shell", () => {
    const manifest = load({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text agenix's module writes.
      secretsDir: "${XDG_RUNTIME_DIR}/agenix",
      secretsMountPoint: "$XDG_RUNTIME_DIR/agenix.d",
      identityPaths: ["~/.ssh/id_ed25519", "$HOME/keys/age.txt"],
      secrets: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: as above.
        a: { file: "${HOME}/secrets/a.age", path: "~/.config/a" },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: as above.
        b: { file: "/nix/store/x-b.age", path: "${XDG_RUNTIME_DIR}/agenix/b" },
      },
    });
    expect(manifest.secretsDir).toBe("/run/user/1000/agenix");
    expect(manifest.secretsMountPoint).toBe("/run/user/1000/agenix.d");
    expect(manifest.identityPaths).toEqual(["/home/alice/.ssh/id_ed25519", "/home/alice/keys/age.txt"]);
    expect(manifest.secrets.map((secret) => [secret.file, secret.path])).toEqual([
      ["/home/alice/secrets/a.age", "/home/alice/.config/a"],
      ["/nix/store/x-b.age", "/run/user/1000/agenix/b"],
    ]);
  });

  it("expand a template's path and file the same way", () => {
    const manifest = load({
      secrets: { a: { file: "/nix/store/x-a.age" } },
      templates: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text the module writes.
        t: { file: "~/templates/t.conf", path: "${XDG_RUNTIME_DIR}/rendered-t" },
        u: { content: "x", path: "$HOME/.config/app/u.conf" },
      },
    });
    expect(manifest.templates.map((template) => [template.name, template.path])).toEqual([
      ["t", "/run/user/1000/rendered-t"],
      ["u", "/home/alice/.config/app/u.conf"],
    ]);
    expect(manifest.templates[0]?.source).toEqual({ file: "/home/alice/templates/t.conf" });
  });

  it("expand nothing else: other variables, ~user, a variable inside a path or a longer name stay and are refused as relative", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: literal manifest text.
    for (const path of ["$XDG_DATA_HOME/a", "~bob/a", "/x/$HOME/a", "$HOMEX/a", "${HOME}x/a"]) {
      const expanded = expandUserPaths({ version: 1, secrets: { a: { file: "/nix/store/a.age", path } } }, user) as { secrets: { a: { path: string } } };
      expect(expanded.secrets.a.path, path).toBe(path);
    }
    expect(() => load({ secrets: { a: { file: "~bob/a.age" } } })).toThrow(/must be an absolute path/);
  });

  it("keep secretsDir and the generations inside the runtime directory", () => {
    const manifest = load({ secretsDir: "~/secrets", secretsMountPoint: "/run/user/1000", secrets: {} });
    expect(userPlacementProblems(manifest, user)).toEqual([
      "secretsDir: with --user it must be inside $XDG_RUNTIME_DIR (/run/user/1000), your memory-backed runtime directory; found /home/alice/secrets",
      "secretsMountPoint: with --user it must be inside $XDG_RUNTIME_DIR (/run/user/1000), your memory-backed runtime directory; found /run/user/1000",
    ]);
  });

  it("are not expanded for the host: a system manifest says which mode expands them", () => {
    const result = validateManifest({ version: 1, secretsDir: "$XDG_RUNTIME_DIR/agenix", secrets: {} });
    expect("problems" in result && result.problems.join()).toContain("only activate --user expands $XDG_RUNTIME_DIR, $HOME and ~");
  });
});
