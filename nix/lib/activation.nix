# The shell snippets the NixOS module puts into system.activationScripts.
#
# Pure (builtins only), so that CI produces exactly these snippets with
# `nix-instantiate --eval` and runs them under bash as root, in a private
# mount namespace, the way NixOS runs its activation script at boot and on
# every switch (test/privileged/nixos-activation.test.ts).
#
# NixOS concatenates the snippets into one bash script that has no `set -e`
# but `trap "_status=1 _localstatus=\$?" ERR` (activation-script.nix): a
# command that fails marks the activation as failed (switch-to-configuration
# then says so) and the script carries on. So each ageboot run is one
# command: a subshell, which also keeps `ulimit` and `umask` from leaking
# into the snippets that follow.
#
# Exit 7 (every secret installed, only custom paths failed) stays a failure
# here, unlike in the units (SuccessExitStatus=7): nothing waits on a snippet,
# the activation carries on either way, and the failed snippet is how
# `nixos-rebuild switch` shows the administrator the path it could not install.
#
#   ageboot    the ageboot executable (a store path)
#   manifests  manifest files, decrypted in this order (the one for users'
#              passwords first)
#   chownManifests  manifests whose owners and groups are applied after the
#              `users` and `groups` snippets
#   deferUnknownOwners  install a secret whose owner does not exist yet as
#              root's and report it (agenix's order: before `users`); false
#              where the snippet runs after `users` and `groups` (sops-nix's
#              setupSecrets), so an unknown owner is that secret's error
{
  ageboot,
  manifests ? [ ],
  chownManifests ? [ ],
  deferUnknownOwners ? true,
}:
let
  inherit (builtins) concatStringsSep replaceStrings;
  quote = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  lines = concatStringsSep "\n";

  # Core dumps off before node starts (plaintext and keys are in its memory),
  # files created owner-only whatever the activation's umask (0022).
  run = args: "( ulimit -c 0 && umask 0077 && exec ${quote ageboot} ${args} )";
in
{
  # agenixInstall: before `users`. An owner or group that this very activation
  # creates does not exist yet: such a secret is installed root:root 0400 and
  # reported as deferred; agenixChown gives it its owner. The units of changed
  # secrets go to the lists switch-to-configuration reads after this script
  # (NIXOS_ACTION=switch or test), so they restart within the same switch.
  # Under `nixos-rebuild dry-activate` (NIXOS_ACTION=dry-activate; the module
  # marks the snippet supportsDryActivation) each run is a --dry-run: it
  # decrypts in memory, writes nothing, says what would change, and names the
  # units it would restart in switch-to-configuration's dry lists.
  install = lines (
    map (
      manifest:
      ''
        case "''${NIXOS_ACTION-}" in
          dry-activate) ${run "activate --manifest ${quote manifest} --dry-run${
            if deferUnknownOwners then " --defer-unknown-owners" else ""
          } --units-via nixos-activation"} ;;
          *) ${run "activate --manifest ${quote manifest}${
            if deferUnknownOwners then " --defer-unknown-owners" else ""
          } --units-via nixos-activation"} ;;
        esac''
    ) manifests
  );

  # agenixChown: after `users` and `groups`.
  chown = lines (map (manifest: run "chown --manifest ${quote manifest}") chownManifests);
}
