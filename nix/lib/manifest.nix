# The ageboot manifest (version 1) from agenix-shaped settings.
#
# Pure: it uses nothing but builtins, so it evaluates without nixpkgs
# (CI runs `nix-instantiate --eval --strict --json` on samples and feeds the
# result to `ageboot activate --dry-run`). The NixOS module calls it with the
# values of its age.* options.
#
# secrets: an attribute set of agenix secret settings:
#   { name, file, path, mode, owner, group, symlink, restartUnits?, reloadUnits?,
#     format?, key? }
# `format` and `key` are a sops secret's (docs/sops.md); `file` may be a path (copied to the store, as agenix does) or a string.
# templates: an attribute set of template settings:
#   { name, content or file, path, mode, owner, group, symlink?, restartUnits?, reloadUnits? }
# (content holds placeholders only, never a secret: it goes into the store).
{
  secrets,
  identityPaths,
  templates ? { },
  secretsDir ? "/run/agenix",
  secretsMountPoint ? "/run/agenix.d",
  # agenix's: only the current generation ("all": never prune).
  keepGenerations ? 0,
}:
let
  optional = name: value: if value == null || value == [ ] then { } else { ${name} = value; };
  declared =
    item:
    {
      path = item.path;
      mode = item.mode;
      owner = item.owner;
      symlink = item.symlink or true;
    }
    // optional "group" (item.group or null)
    // optional "restartUnits" (item.restartUnits or [ ])
    // optional "reloadUnits" (item.reloadUnits or [ ]);
  # A sops secret (nix/sops.nix) also has `format` and `key`; an age secret
  # has neither, and its entry stays as agenix's settings give it.
  entry = secret: {
    name = secret.name;
    value =
      declared secret
      // {
        file = "${secret.file}";
      }
      // (if (secret.format or null) == null then { } else { inherit (secret) format; })
      // (if (secret.key or null) == null then { } else { inherit (secret) key; });
  };
  templateEntry = template: {
    name = template.name;
    value =
      declared template
      // (
        if (template.file or null) != null then
          { file = "${template.file}"; }
        else
          { content = template.content; }
      );
  };
in
{
  version = 1;
  inherit secretsDir secretsMountPoint keepGenerations;
  identityPaths = map (path: "${toString path}") identityPaths;
  secrets = builtins.listToAttrs (map entry (builtins.attrValues secrets));
}
// (
  if templates == { } then
    { }
  else
    { templates = builtins.listToAttrs (map templateEntry (builtins.attrValues templates)); }
)
