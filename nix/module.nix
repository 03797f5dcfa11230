# NixOS module: a drop-in for agenix (ryantm/agenix, modules/age.nix), backed
# by ageboot. Every agenix option, with agenix's types and defaults, plus a few
# of ageboot's own (docs/nixos.md).
#
# Two ways to run, as sops-nix has (`useSystemdActivation`):
#
# - activation scripts (the default, agenix's way): `agenixInstall` runs
#   `ageboot activate` after `specialfs` and before `users`, so a secret can be
#   a user's hashedPasswordFile and every secret exists before systemd starts a
#   unit; `agenixChown`, after `users` and `groups`, applies owners and groups
#   that this activation created. Both run at boot and on every switch.
# - systemd units (age.useSystemdActivation; the default with systemd-sysusers,
#   userborn or nixos-init, where activation scripts run too early or not at
#   all): ageboot.service before sysinit.target, and ageboot-for-users.service
#   before systemd-sysusers/userborn for the secrets marked neededForUsers.
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
    mkMerge
    types
    literalExpression
    ;
  cfg = config.age;
  users = config.users.users;


  # What a secret and a template both have: how the installed file is owned and
  # moded, whether a custom path is a symlink, and the units that read it.
  # `file`: what the option texts call it; `it`: the same as a subject.
  installedFileOptions = config: file: it: {
    mode = mkOption {
      type = types.str;
      default = "0400";
      description = ''
        Permissions mode of ${file} in a format understood by chmod: octal
        (`"0440"`, `"440"`) or symbolic (`"u=r,g=r,o="`, `"a+r"`, applied to
        0400). Passed to the manifest unchanged.
      '';
    };
    owner = mkOption {
      type = types.str;
      default = "0";
      description = "User of ${file}.";
    };
    group = mkOption {
      type = types.str;
      default = users.${config.owner}.group or "0";
      defaultText = literalExpression ''users.''${config.owner}.group or "0"'';
      description = "Group of ${file}.";
    };
    symlink = mkEnableOption "symlinking ${file} to its custom path" // {
      default = true;
    };
    # sops-nix's names: its users keep their options.
    restartUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "nginx.service" ];
      description = ''
        Units to restart when ${it} is added, changed (content, owner, group or
        mode) or removed, once per switch, without waiting for them. Under the
        classic activation they join switch-to-configuration's own restarts; with
        {option}`age.useSystemdActivation`, `systemctl --no-block try-restart`.
        Nothing is restarted at boot.
      '';
    };
    reloadUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "nginx.service" ];
      description = ''
        Units to reload (or restart, when they cannot reload) when ${it} is
        added, changed or removed; as {option}`restartUnits` otherwise.
      '';
    };
  };

  secretType = types.submodule (
    { config, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = config._module.args.name;
          defaultText = literalExpression "config._module.args.name";
          description = "Name of the file used in {option}`age.secretsDir`.";
        };
        file = mkOption {
          type = types.path;
          description = "Age file the secret is loaded from.";
        };
        path = mkOption {
          type = types.str;
          default =
            if config.neededForUsers then
              "${cfg.secretsForUsersDir}/${config.name}"
            else
              "${cfg.secretsDir}/${config.name}";
          defaultText = literalExpression ''
            if neededForUsers then "''${cfg.secretsForUsersDir}/''${config.name}"
            else "''${cfg.secretsDir}/''${config.name}"
          '';
          description = "Path where the decrypted secret is installed.";
        };
      }
      // installedFileOptions config "the decrypted secret" "this secret"
      // {
        # ageboot's own (sops-nix has the same option).
        neededForUsers = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Decrypt this secret before users and groups are created, into
            {option}`age.secretsForUsersDir`, so that it can be a user's
            `hashedPasswordFile` also with {option}`age.useSystemdActivation`
            (systemd-sysusers, userborn). Such a secret must be owned by root.
          '';
        };
      };
    }
  );

  # A template (sops-nix's sops.templates, agenix#95): text with placeholders
  # (config.age.placeholder.<secret>), rendered at activation into
  # secretsDir/rendered/<name> with the secrets' plaintext.
  templateType = types.submodule (
    { config, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = config._module.args.name;
          defaultText = literalExpression "config._module.args.name";
          description = "Name of the rendered file in {option}`age.secretsDir`/rendered.";
        };
        content = mkOption {
          type = types.nullOr types.lines;
          default = null;
          example = literalExpression ''"DATABASE_PASSWORD=''${config.age.placeholder.db-password}\n"'';
          description = ''
            The template's text. Each `config.age.placeholder.<secret>` in it is
            replaced by that secret's plaintext at activation. It holds
            placeholders, not secrets, and goes into the Nix store. Set this or
            {option}`file`.
          '';
        };
        file = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "A file holding the template's text, instead of {option}`content`.";
        };
        path = mkOption {
          type = types.str;
          default = "${cfg.secretsDir}/rendered/${config.name}";
          defaultText = literalExpression ''"''${cfg.secretsDir}/rendered/''${config.name}"'';
          description = "Path where the rendered file is installed (a symlink to the default path, or a copy with `symlink = false`).";
        };
      }
      // installedFileOptions config "the rendered file" "the rendered file";
    }
  );

  # Manifests, the build-time check, shared assertions and units (nix/lib/nixos-backend.nix).
  backend = import ./lib/nixos-backend.nix { inherit config options lib pkgs; } {
    prefix = "age";
    kind = "age";
    unit = "ageboot";
    unitForUsers = "ageboot-for-users";
    # agenix's unit under systemd-sysusers/userborn (ryantm/agenix modules/age.nix).
    unitAliases = [ "agenix-install-secrets.service" ];
    hostPublicKeysOption = "age.hostPublicKeys";
    inherit (cfg)
      secrets
      templates
      secretsDir
      secretsMountPoint
      secretsForUsersDir
      identityPaths
      keepGenerations
      useSystemdActivation
      hostPublicKeys
      package
      ;
    # The build machine's ageboot when it cannot run the host's (a cross build).
    checkPackage = backend.defaultCheckPackage cfg.package;
  };
  inherit (backend)
    regularSecrets
    secretsForUsers
    hasRegular
    placeholderOf
    manifestFile
    manifestForUsersFile
    # Users and groups made by a systemd unit, not by the `users` activation
    # script; nixos-init runs no activation scripts at all.
    sysusersEnabled
    nixosInitEnabled
    ;
  # The for-users manifest first: those secrets are root's, needed by `users`.
  manifestFiles =
    lib.optional (secretsForUsers != { }) manifestForUsersFile
    ++ lib.optional hasRegular manifestFile;
  snippets = backend.snippets {
    manifests = manifestFiles;
    chownManifests = lib.optional hasRegular manifestFile;
  };
in
{
  imports = [
    (lib.mkRenamedOptionModule [ "age" "sshKeyPaths" ] [ "age" "identityPaths" ])
  ];

  options.age = {
    ageBin = mkOption {
      type = types.str;
      default = "${pkgs.age}/bin/age";
      defaultText = literalExpression ''
        "''${pkgs.age}/bin/age"
      '';
      description = ''
        The age executable to use. Accepted for compatibility with agenix and
        otherwise unused: ageboot decrypts natively (a warning says so when
        this is set).
      '';
    };
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Attrset of secrets.";
    };
    templates = mkOption {
      type = types.attrsOf templateType;
      default = { };
      description = ''
        Files rendered from secrets at activation (sops-nix's `sops.templates`):
        each `config.age.placeholder.<secret>` in a template's text is replaced
        by that secret's plaintext. Read at {option}`age.secretsDir`/rendered/<name>.
      '';
    };
    placeholder = mkOption {
      type = types.attrsOf types.str;
      readOnly = true;
      default = lib.mapAttrs (_: placeholderOf) regularSecrets;
      defaultText = literalExpression ''"<AGEBOOT:''${builtins.hashString "sha256" secret.name}:PLACEHOLDER>" for each secret without neededForUsers'';
      description = ''
        The placeholder of each secret, for {option}`age.templates`:
        `"''${config.age.placeholder.db-password}"`. A placeholder for a secret
        that is not declared is an evaluation error (a missing attribute).
        Secrets with `neededForUsers` have none: they live in another generation.
      '';
    };
    secretsDir = mkOption {
      type = types.path;
      default = "/run/agenix";
      description = "Folder where secrets are symlinked to.";
    };
    secretsMountPoint = mkOption {
      type =
        types.addCheck types.str (
          s:
          (builtins.match "[ \t\n]*" s) == null # non-empty
          && (builtins.match ".+/" s) == null
        ) # without trailing slash
        // {
          description = "${types.str.description} (with check: non-empty without trailing slash)";
        };
      default = "/run/agenix.d";
      description = "Where secrets are created before they are symlinked to {option}`age.secretsDir`.";
    };
    identityPaths = mkOption {
      type = types.listOf types.path;
      default =
        if (config.services.openssh.enable or false) then
          map (e: e.path) (
            lib.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys
          )
        else
          [ ];
      defaultText = literalExpression ''
        if (config.services.openssh.enable or false)
        then map (e: e.path) (lib.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys)
        else [];
      '';
      description = "Path to SSH keys to be used as identities in age decryption.";
    };

    # ageboot's own options.
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The ageboot package.";
    };
    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 0;
      description = ''
        How many previous generations of secrets to keep besides the current
        one. The default, 0, is agenix's: once a new generation is current the
        previous one is removed, so a rotated or removed secret's plaintext
        leaves the ramfs at that switch. Raise it to keep older generations
        for processes that still hold a path into one.
      '';
    };
    useSystemdActivation = mkOption {
      type = types.bool;
      default = sysusersEnabled || nixosInitEnabled;
      defaultText = literalExpression "config.systemd.sysusers.enable || config.services.userborn.enable || config.system.nixos-init.enable";
      description = ''
        Decrypt with systemd units (ageboot.service before sysinit.target,
        also named agenix-install-secrets.service as agenix's unit is;
        ageboot-for-users.service before systemd-sysusers/userborn for secrets
        with `neededForUsers`) instead of activation scripts. The default
        where users are not made by the `users` activation script. A switch
        re-decrypts through ageboot-refresh.service (and
        ageboot-for-users-refresh.service) and restarts only the units whose
        secrets changed (`restartUnits`), never the units that require
        ageboot.service.
      '';
    };
    secretsForUsersDir = mkOption {
      type = types.str;
      default = "/run/agenix-for-users";
      description = ''
        Where secrets with `neededForUsers` are installed (a root-only
        generation on its own ramfs, `''${secretsForUsersDir}.d`).
      '';
    };
    validateSecrets = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Run `ageboot check` when the system is built: every `file` in the Nix
        store exists and is an age file, owners and groups are declared in
        this configuration (or numeric), custom paths are sane, and each file
        is encrypted to one of {option}`age.hostPublicKeys`. A problem fails
        the build with the secret's name. No private key is read.
      '';
    };
    hostPublicKeys = mkOption {
      type = types.listOf (types.either types.path types.str);
      default = [ ];
      example = literalExpression ''[ ./hosts/web1/ssh_host_ed25519_key.pub "ssh-ed25519 AAAAC3Nza... root@web1" ]'';
      description = ''
        The host's SSH public keys (files, or the key lines themselves), for
        the build-time check that each secret is encrypted to this host. The
        private keys in {option}`age.identityPaths` live on the host only, so
        these cannot be derived; when the list is empty that part of the check
        is skipped, with a note in the build log.
      '';
    };
  };

  config = mkMerge [
    # The activation script names agenix defines, always, so that other
    # modules' `deps = [ "agenix" ]` and tweaks of agenixInstall evaluate.
    {
      system.activationScripts = {
        agenixNewGeneration = {
          deps = [ "specialfs" ];
          # ageboot makes the generation itself, inside agenixInstall.
          text = "";
        };
        agenixInstall = {
          deps = [
            "agenixNewGeneration"
            "specialfs"
          ];
          text = "";
        };
        agenixChown = {
          deps = [
            "users"
            "groups"
          ];
          text = "";
        };
        agenix = {
          deps = [ "agenixChown" ];
          text = "";
        };
      };
    }

    (mkIf (cfg.secrets != { } || cfg.templates != { }) (mkMerge [
      {
        assertions = [
          {
            assertion = cfg.identityPaths != [ ];
            message = "age.identityPaths must be set, for example by enabling openssh.";
          }
          {
            # agenix's home-manager module calls its age implementation age.package
            # (agenix's NixOS module has none; it has age.ageBin): here it would be
            # run with ageboot's arguments at boot.
            assertion = lib.getName cfg.package == "ageboot";
            message = "age.package is ${lib.getName cfg.package}: in ageboot's NixOS module it is the ageboot package, which decrypts natively (agenix's age implementation is age.ageBin, which ageboot does not run). Remove the setting.";
          }
          {
            assertion = lib.all (t: (t.content == null) != (t.file == null)) (lib.attrValues cfg.templates);
            message = "age.templates.<name>: set exactly one of content and file (${
              lib.concatStringsSep ", " (
                lib.attrNames (lib.filterAttrs (_: t: (t.content == null) == (t.file == null)) cfg.templates)
              )
            }).";
          }
        ]
        ++ backend.assertions;

        warnings =
          lib.optional (options.age.ageBin.highestPrio < (lib.mkOptionDefault null).priority) ''
            age.ageBin is set, but ageboot decrypts natively and never runs it. Not supported:
            age plugins (AGE-PLUGIN-... identities, age1<plugin>1... recipients such as
            age-plugin-yubikey or age-plugin-tpm) and passphrase-encrypted (scrypt) files.
          '';

        system.checks = lib.optional cfg.validateSecrets backend.check;

        # For people and tests: what the module generated.
        system.build.ageboot = backend.build;
      }

      (mkIf (!cfg.useSystemdActivation) {
        system.activationScripts = {
          # `nixos-rebuild dry-activate` runs it too, as a --dry-run (nix/lib/activation.nix).
          agenixInstall = {
            text = snippets.install;
            supportsDryActivation = true;
          };
          agenixChown.text = snippets.chown;
          # So user passwords can be secrets (agenix does the same). Only
          # where `users` is a snippet, not the empty string that
          # systemd-sysusers and userborn leave (the assertion above covers it).
          users = mkIf (!sysusersEnabled) { deps = [ "agenixInstall" ]; };
        };
      })

      (mkIf cfg.useSystemdActivation {
        # No activation snippet (nixpkgs warns on them: restrict-activation-scripts.nix):
        # the boot units, and the refresh units that every switch starts
        # (nix/lib/nixos-backend.nix says how).
        systemd.services = backend.services;
      })
    ]))
  ];
}
