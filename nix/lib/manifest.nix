# The ageboot manifest (version 1) from agenix-shaped settings.
#
# Pure: it uses nothing but builtins, so it evaluates without nixpkgs
# (CI runs `nix-instantiate --eval --strict --json` on samples and feeds the
# result to `ageboot activate --dry-run`). The NixOS module calls it with the
# values of its age.* options.
#
# secrets: an attribute set of agenix secret settings:
#   { name, file, path, mode, owner, group, symlink, restartUnits?, reloadUnits? }
# `file` may be a path (copied to the store, as agenix does) or a string.
{
  secrets,
  identityPaths,
  secretsDir ? "/run/agenix",
  secretsMountPoint ? "/run/agenix.d",
  keepGenerations ? 1,
}:
let
  entry =
    secret:
    {
      name = secret.name;
      value = {
        file = "${secret.file}";
        path = secret.path;
        mode = secret.mode;
        owner = secret.owner;
        symlink = secret.symlink;
      }
      // (if (secret.group or null) == null then { } else { group = secret.group; })
      // (if (secret.restartUnits or [ ]) == [ ] then { } else { inherit (secret) restartUnits; })
      // (if (secret.reloadUnits or [ ]) == [ ] then { } else { inherit (secret) reloadUnits; });
    };
in
{
  version = 1;
  inherit secretsDir secretsMountPoint keepGenerations;
  identityPaths = map (path: "${toString path}") identityPaths;
  secrets = builtins.listToAttrs (map entry (builtins.attrValues secrets));
}
