# NixOS module: a drop-in for agenix's `age.*` options, backed by ageboot.
# Secrets are decrypted by ageboot.service at boot (before sysinit.target, so
# before ordinary services) and again on `nixos-rebuild switch` whenever the
# manifest changes (the unit takes part in sysinit-reactivation.target).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption types;
  cfg = config.age;
  users = config.users.users;

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
          description = "Path where the decrypted secret is installed.";
        };
        mode = mkOption {
          type = types.str;
          default = "0400";
          description = "Permissions mode of the decrypted secret in a format understood by chmod.";
        };
        owner = mkOption {
          type = types.str;
          default = "0";
          description = "User of the decrypted secret.";
        };
        group = mkOption {
          type = types.str;
          default = users.${config.owner}.group or "0";
          defaultText = lib.literalExpression ''users.''${config.owner}.group or "0"'';
          description = "Group of the decrypted secret.";
        };
        symlink = mkEnableOption "symlinking secrets to their destination" // {
          default = true;
        };
      };
    }
  );

  manifest = import ./lib/manifest.nix {
    inherit (cfg) secrets identityPaths secretsDir secretsMountPoint keepGenerations;
  };
  manifestFile = pkgs.writeText "ageboot-manifest.json" (builtins.toJSON manifest);
  identityDirectories = lib.unique (map (path: builtins.dirOf (toString path)) cfg.identityPaths);
in
{
  options.age = {
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The ageboot package.";
    };
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Attrset of secrets.";
    };
    secretsDir = mkOption {
      type = types.path;
      default = "/run/agenix";
      description = "Folder where secrets are symlinked to.";
    };
    secretsMountPoint = mkOption {
      type = types.addCheck types.str (
        s: (builtins.match "[ \t\n]*" s) == null && (builtins.match ".+/" s) == null
      ) // { description = "${types.str.description} (with check: non-empty without trailing slash)"; };
      default = "/run/agenix.d";
      description = "Where secrets are created before they are symlinked to {option}`age.secretsDir`.";
    };
    identityPaths = mkOption {
      type = types.listOf types.path;
      default =
        if (config.services.openssh.enable or false) then
          map (e: e.path) (lib.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys)
        else
          [ ];
      defaultText = lib.literalExpression ''
        if (config.services.openssh.enable or false)
        then map (e: e.path) (lib.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys)
        else [];
      '';
      description = "Path to SSH keys or age identities to be used to decrypt the secrets.";
    };
    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 1;
      description = "How many previous generations of secrets to keep besides the current one (ageboot).";
    };
  };

  config = lib.mkIf (cfg.secrets != { }) {
    assertions = [
      {
        assertion = cfg.identityPaths != [ ];
        message = "age.identityPaths must be set, for example by enabling openssh.";
      }
    ];

    systemd.services.ageboot = {
      description = "Decrypt age secrets (ageboot)";
      wantedBy = [ "sysinit.target" ];
      # Restarted, before ordinary units, on every switch that changes the manifest.
      requiredBy = [ "sysinit-reactivation.target" ];
      before = [ "sysinit.target" "shutdown.target" "sysinit-reactivation.target" ];
      conflicts = [ "shutdown.target" ];
      wants = [ "local-fs.target" ];
      after = [ "local-fs.target" "systemd-sysusers.service" "userborn.service" ];
      restartTriggers = [ manifestFile ];
      # flock and mount (util-linux), systemd-notify, getent (NSS users and groups).
      path = [ pkgs.util-linux config.systemd.package pkgs.getent ];
      unitConfig = {
        DefaultDependencies = false;
        RequiresMountsFor = identityDirectories;
      };
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "${lib.getExe cfg.package} activate --manifest ${manifestFile}";
        NotifyAccess = "all";
        # The same hardening as systemd/ageboot.service: nothing that gives the
        # unit a private mount namespace, so the ramfs is visible host-wide.
        UMask = "0077";
        NoNewPrivileges = true;
        CapabilityBoundingSet = [ "CAP_SYS_ADMIN" "CAP_CHOWN" "CAP_FOWNER" "CAP_DAC_OVERRIDE" "CAP_DAC_READ_SEARCH" "CAP_FSETID" ];
        RestrictAddressFamilies = [ "AF_UNIX" ];
        IPAddressDeny = "any";
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        ProtectClock = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [ "@system-service" "@mount" ];
        SystemCallErrorNumber = "EPERM";
      };
    };
  };
}
