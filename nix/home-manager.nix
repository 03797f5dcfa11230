# home-manager module: a drop-in for agenix's (ryantm/agenix,
# modules/age-home.nix), backed by `ageboot activate --user`
# (docs/home-manager.md). The same age.* options, types and defaults:
# secrets decrypted with the user's own key (~/.ssh/id_ed25519, ~/.ssh/id_rsa)
# into $XDG_RUNTIME_DIR/agenix -> $XDG_RUNTIME_DIR/agenix.d/N, without root.
#
# It runs
# - at login: the user unit ageboot-user.service, wanted by default.target
#   (and so at boot for a lingering user: `loginctl enable-linger`);
# - on `home-manager switch`: the home.activation entry `ageboot`.
#
# Linux only; nix-darwin / macOS is not covered (docs/home-manager.md says
# what it would take).
#
# age.package keeps agenix's meaning (the age implementation agenix's script
# ran, `pkgs.age` or `pkgs.rage`), so an agenix configuration that sets it
# still works: it is not run, and a warning says so. ageboot's own package is
# age.agebootPackage.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    types
    literalExpression
    ;
  cfg = config.age;

  secretType = types.submodule (
    { config, name, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
          description = "Name of the file used in {option}`age.secretsDir`.";
        };
        file = mkOption {
          type = types.path;
          description = "Age file the secret is loaded from.";
        };
        path = mkOption {
          type = types.str;
          default = "${cfg.secretsDir}/${config.name}";
          defaultText = literalExpression ''"''${cfg.secretsDir}/''${config.name}"'';
          description = ''
            Path where the decrypted secret is installed. A leading
            `''${XDG_RUNTIME_DIR}`, `$HOME` or `~` is expanded by ageboot when
            it runs, as agenix's shell script expanded it.
          '';
        };
        mode = mkOption {
          type = types.str;
          default = "0400";
          description = "Permissions mode of the decrypted secret in a format understood by chmod.";
        };
        symlink = mkEnableOption "symlinking secrets to their destination" // {
          default = true;
        };
      };
    }
  );

  # The manifest `ageboot activate --user` reads. Paths stay as written
  # ("''${XDG_RUNTIME_DIR}/agenix/<name>" by default, as agenix's module has
  # them): ageboot expands a leading $XDG_RUNTIME_DIR, $HOME or ~. No owner or
  # group: with --user every secret is the user's, in their primary group.
  manifest = {
    version = 1;
    inherit (cfg) secretsDir secretsMountPoint keepGenerations;
    identityPaths = map toString cfg.identityPaths;
    secrets = lib.mapAttrs' (
      _: secret:
      lib.nameValuePair secret.name {
        file = "${secret.file}";
        inherit (secret) path mode symlink;
      }
    ) cfg.secrets;
  };
  manifestFile = pkgs.writeText "ageboot-home-manifest.json" (builtins.toJSON manifest);

  activate = "${lib.getExe cfg.agebootPackage} activate --user --manifest ${manifestFile}";
  # The user unit and home.activation entry, shared with nix/home-manager-sops.nix.
  userUnit = import ./lib/user-unit.nix { inherit lib; };

  packageIsSet = options.age.package.highestPrio < (lib.mkOptionDefault null).priority;
  # A configuration written before age.agebootPackage existed set ageboot here.
  packageIsAgeboot = lib.getName cfg.package == "ageboot";
in
{
  options.age = {
    # agenix's (mkPackageOption pkgs "age" { }): its age implementation.
    package = mkOption {
      type = types.package;
      default = pkgs.age;
      defaultText = literalExpression "pkgs.age";
      description = ''
        agenix's age implementation (`pkgs.age`, `pkgs.rage`). Accepted for
        compatibility and never run: ageboot decrypts natively (a warning says
        so when this is set). ageboot's own package is
        {option}`age.agebootPackage`.
      '';
    };

    # ageboot's own.
    agebootPackage = mkOption {
      type = types.package;
      default = if packageIsAgeboot then cfg.package else pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./package.nix { } (or age.package, when that is an ageboot package)";
      description = "The ageboot package that decrypts the secrets.";
    };

    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Attrset of secrets.";
    };

    identityPaths = mkOption {
      type = types.listOf types.path;
      default = [
        "${config.home.homeDirectory}/.ssh/id_ed25519"
        "${config.home.homeDirectory}/.ssh/id_rsa"
      ];
      defaultText = literalExpression ''
        [
          "''${config.home.homeDirectory}/.ssh/id_ed25519"
          "''${config.home.homeDirectory}/.ssh/id_rsa"
        ]
      '';
      description = ''
        Path to SSH keys (or age identity files) to be used as identities in
        age decryption. A key with a passphrase cannot be used: nobody is there
        to type it at login.
      '';
    };

    secretsDir = mkOption {
      type = types.str;
      default = "\${XDG_RUNTIME_DIR}/agenix";
      defaultText = literalExpression ''"''${XDG_RUNTIME_DIR}/agenix"'';
      description = ''
        Folder where secrets are symlinked to; inside $XDG_RUNTIME_DIR (ageboot
        refuses anything else: it must be the user's tmpfs).
      '';
    };

    secretsMountPoint = mkOption {
      type = types.str;
      default = "\${XDG_RUNTIME_DIR}/agenix.d";
      defaultText = literalExpression ''"''${XDG_RUNTIME_DIR}/agenix.d"'';
      description = ''
        Where secrets are created before they are symlinked to
        {option}`age.secretsDir`; inside $XDG_RUNTIME_DIR. Nothing is mounted
        here: $XDG_RUNTIME_DIR is already a tmpfs, and ageboot checks that it is.
      '';
    };

    # ageboot's own, as in its NixOS module.
    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 0;
      description = ''
        How many previous generations of secrets to keep besides the current
        one; 0 (the default) is agenix's: only the current generation stays.
      '';
    };
  };

  config = mkIf (cfg.secrets != { }) {
    assertions = [
      {
        assertion = cfg.identityPaths != [ ];
        message = "age.identityPaths must be set.";
      }
      {
        assertion = lib.getName cfg.agebootPackage == "ageboot";
        message = "age.agebootPackage is ${lib.getName cfg.agebootPackage}: it must be the ageboot package (it is run as `ageboot activate --user`); an age implementation belongs in age.package, which ageboot does not run.";
      }
      {
        assertion = pkgs.stdenv.hostPlatform.isLinux;
        message = "ageboot's home-manager module runs on Linux only (it needs $XDG_RUNTIME_DIR on tmpfs and a systemd user manager); on macOS use agenix's module (docs/home-manager.md).";
      }
    ];

    warnings =
      lib.optional (packageIsSet && !packageIsAgeboot) ''
        age.package (${lib.getName cfg.package}) is not used: it is agenix's age implementation, and
        ageboot decrypts natively. Not supported: age plugins (AGE-PLUGIN-... identities,
        age1<plugin>1... recipients) and passphrase-encrypted (scrypt) files. ageboot's own
        package is age.agebootPackage.
      ''
      ++ lib.optional (packageIsSet && packageIsAgeboot) ''
        age.package is set to ageboot: age.package is agenix's age implementation; ageboot's own
        package is age.agebootPackage. Used this time: move the setting there.
      '';

    # So that `ageboot activate --user` by hand reads the same manifest.
    xdg.configFile."ageboot/manifest.json".source = manifestFile;

    # At login, and at boot for a lingering user; and on `home-manager switch`
    # (home-manager's NixOS service activates at boot, before any login), as
    # nix/home-manager-sops.nix does (nix/lib/user-unit.nix).
    systemd.user.services.ageboot-user = userUnit.service {
      description = "Decrypt your age secrets into $XDG_RUNTIME_DIR (ageboot --user)";
      inherit activate;
    };
    home.activation.ageboot = userUnit.activation {
      unit = "ageboot-user.service";
      inherit activate;
    };
  };
}
