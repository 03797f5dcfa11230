# NixOS module: a drop-in for sops-nix (Mic92/sops-nix, modules/sops: the
# module, templates/ and secrets-for-users/), backed by ageboot. Every option
# sops-nix declares, with its types, defaults and paths; what ageboot cannot
# do (PGP, age plugins) is a build-time assertion naming the option
# (docs/sops.md, "Migrating from sops-nix").
#
# Layout, as sops-nix's: each activation makes a generation under
# /run/secrets.d/N (a ramfs) and points the symlink /run/secrets at it;
# secrets are /run/secrets/<name>, templates /run/secrets/rendered/<name>,
# and secrets with neededForUsers live in /run/secrets-for-users
# (-> /run/secrets-for-users.d/N). The activation scripts keep sops-nix's
# names and order: `setupSecretsForUsers` after `specialfs` and before
# `users`; `setupSecrets` after `users` and `groups`; `generate-age-key`
# before both. With useSystemdActivation the units are
# sops-install-secrets(-for-users).service, as in sops-nix, so units ordered
# after them keep their order.
#
# The manifests, the build-time check and the units come from
# nix/lib/nixos-backend.nix, which nix/module.nix (agenix's age.*) uses too;
# both modules can be imported together (their directories, script and unit
# names differ).
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types literalExpression;
  cfg = config.sops;
  users = config.users.users;

  # The declarations this module and nix/home-manager-sops.nix share word for
  # word; each option below names where it comes from.
  shared = import ./lib/sops-options.nix { inherit lib pkgs cfg; };

  # An owner given as a name, or else a number (sops-nix: owner wins, uid
  # applies when owner is null); ageboot's manifest takes either as a string.
  principal = name: id: if name != null then name else toString id;

  # What sops-nix's secrets and templates share: owner and group, by name or
  # number, mode, and the units that read the file.
  installedFileOptions = config: file: {
    mode = mkOption {
      type = types.singleLineStr;
      default = "0400";
      description = "Permissions mode of ${file} in octal.";
    };
    owner = mkOption {
      type = types.nullOr types.singleLineStr;
      default = null;
      description = "User of ${file}. Can only be set if uid is 0.";
    };
    uid = mkOption {
      type = types.nullOr types.int;
      default = 0;
      description = "UID of ${file}, only applied when owner is null. Applied even if no user has it.";
    };
    group = mkOption {
      type = types.nullOr types.singleLineStr;
      # sops-nix: users.${owner}.group, which fails to evaluate for an owner
      # that is not in users.users; here such an owner gets gid instead.
      default = if config.owner != null then users.${config.owner}.group or null else null;
      defaultText = lib.literalMD "{option}`config.users.users.\${owner}.group`";
      description = "Group of ${file}. Can only be set if gid is 0.";
    };
    gid = mkOption {
      type = types.nullOr types.int;
      default = 0;
      description = "GID of ${file}, only applied when group is null. Applied even if no group has it.";
    };
    restartUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "sshd.service" ];
      description = ''
        Units to restart when ${file} is added, changed (content, owner,
        group or mode) or removed, once per switch.
      '';
    };
    reloadUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "sshd.service" ];
      description = "Units to reload (or restart, when they cannot reload) when ${file} changes.";
    };
  };

  secretType = types.submodule (
    { config, ... }:
    {
      config = {
        sopsFile = lib.mkOptionDefault cfg.defaultSopsFile;
        sopsFileHash = lib.mkOptionDefault (
          # Not for a missing file: the validateSopsFiles assertion names it.
          lib.optionalString (cfg.validateSopsFiles && builtins.pathExists config.sopsFile) "${builtins.hashFile "sha256" config.sopsFile}"
        );
      };
      options = {
        name = mkOption {
          type = types.str;
          default = config._module.args.name;
          description = "Name of the file used in /run/secrets.";
        };
        key = shared.secret.key config._module.args.name;
        path = mkOption {
          type = types.str;
          default =
            if config.neededForUsers then
              "/run/secrets-for-users/${config.name}"
            else
              "/run/secrets/${config.name}";
          defaultText = "/run/secrets-for-users/$name when neededForUsers is set, /run/secrets/$name otherwise.";
          description = "Path where the secret is symlinked to. If the default is kept no symlink is created.";
        };
        format = shared.secret.format [
          "yaml"
          "json"
          "binary"
          "dotenv"
          "ini"
        ];
        sopsFile = mkOption {
          type = types.path;
          defaultText = literalExpression "\${config.sops.defaultSopsFile}";
          description = "Sops file the secret is loaded from.";
        };
        sopsFileHash = mkOption {
          type = types.str;
          readOnly = true;
          description = "Hash of the sops file, useful in {option}`systemd.services.<name>.restartTriggers`.";
        };
        neededForUsers = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Decrypt this secret before users and groups are created, into
            /run/secrets-for-users, so that it can be a user's
            `hashedPasswordFile`. Such a secret must be owned by root.
          '';
        };
      }
      // installedFileOptions config "the secret";
    }
  );

  templateType = types.submodule (
    { config, ... }:
    {
      options = {
        name = mkOption {
          type = types.singleLineStr;
          default = config._module.args.name;
          description = "Name of the file used in /run/secrets/rendered.";
        };
        path = mkOption {
          type = types.singleLineStr;
          default = "/run/secrets/rendered/${config.name}";
          description = "Path where the rendered file is placed (a symlink to the default path otherwise).";
        };
        inherit (shared.template) content;
        file = mkOption {
          type = types.path;
          default = pkgs.writeText config.name config.content;
          defaultText = literalExpression "pkgs.writeText config.name config.content";
          example = "./configuration-template.conf";
          description = "File used as the template, when {option}`content` is empty (sops-nix reads content first).";
        };
      }
      // installedFileOptions config "the rendered file";
    }
  );

  # Skip ssh keys deployed with sops to avoid a catch-22 (as sops-nix does).
  defaultImportKeys =
    algo:
    if config.services.openssh.enable or false then
      map (e: e.path) (
        lib.filter (e: e.type == algo && !(lib.hasPrefix "/run/secrets" e.path)) config.services.openssh.hostKeys
      )
    else
      [ ];

  # sops-nix's settings as ageboot's: owners and groups by name or number,
  # custom paths always symlinks (sops-nix makes symlinks).
  toSecret = s: {
    inherit (s)
      name
      path
      mode
      restartUnits
      reloadUnits
      neededForUsers
      format
      key
      ;
    file = s.sopsFile;
    owner = principal s.owner s.uid;
    group = principal s.group s.gid;
    symlink = true;
  };
  # sops-install-secrets reads `content` when it is not empty, else `file`.
  toTemplate =
    t:
    {
      inherit (t)
        name
        path
        mode
        restartUnits
        reloadUnits
        ;
      owner = principal t.owner t.uid;
      group = principal t.group t.gid;
      symlink = true;
    }
    // (if t.content != "" then { content = t.content; file = null; } else { content = null; inherit (t) file; });

  identityPaths = lib.optional (cfg.age.keyFile != null) cfg.age.keyFile ++ cfg.age.sshKeyPaths;

  # Why there is no key, in the terms of what is configured. With openssh on
  # and only RSA host keys, sops-nix would import them as PGP keys
  # (gnupg.sshKeyPaths); ageboot has no PGP, and age takes ed25519 host keys
  # by default (the age1 recipient ssh-to-age derives).
  sshHostKeys = if config.services.openssh.enable or false then config.services.openssh.hostKeys else [ ];
  noKeyMessage =
    if !(config.services.openssh.enable or false) then
      "No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile."
    else if lib.all (k: (k.type or null) != "ed25519") sshHostKeys then
      ''
        No key source configured for sops: services.openssh is enabled, but none of its hostKeys
        is an ed25519 key (${lib.concatMapStringsSep ", " (k: "${k.type or "?"} ${k.path or "?"}") sshHostKeys}),
        and sops.age.sshKeyPaths takes only the ed25519 host keys by default. sops-nix would
        import an RSA host key as a PGP key (sops.gnupg.sshKeyPaths); ageboot has no PGP. Either:
        - add an ed25519 host key to services.openssh.hostKeys, and its age recipient to the sops
          files (ageboot recipient /etc/ssh/ssh_host_ed25519_key.pub; sops updatekeys);
        - or, if the files are encrypted to the RSA key as a native ssh-rsa age recipient
          (sops >= 3.10), list it: sops.age.sshKeyPaths = [ "/etc/ssh/ssh_host_rsa_key" ];
        - or set sops.age.keyFile (an age identity file).
      ''
    else if defaultImportKeys "ed25519" == [ ] then
      "No key source configured for sops: the ed25519 host keys of services.openssh.hostKeys are all under /run/secrets (deployed by sops itself, so skipped, as sops-nix skips them). Set sops.age.keyFile, or sops.age.sshKeyPaths to a key that exists before the secrets are decrypted."
    else
      "No key source configured for sops: sops.age.sshKeyPaths is empty and sops.age.keyFile is unset. Set one of them (by default sops.age.sshKeyPaths holds the ed25519 keys of services.openssh.hostKeys).";

  backend = import ./lib/nixos-backend.nix { inherit config options lib pkgs; } {
    prefix = "sops";
    kind = "sops";
    unit = "sops-install-secrets";
    unitForUsers = "sops-install-secrets-for-users";
    hostPublicKeysOption = "sops.hostPublicKeys";
    secrets = lib.mapAttrs (_: toSecret) cfg.secrets;
    templates = lib.mapAttrs (_: toTemplate) cfg.templates;
    secretsDir = "/run/secrets";
    secretsMountPoint = "/run/secrets.d";
    secretsForUsersDir = "/run/secrets-for-users";
    inherit identityPaths;
    # sops-nix counts the current generation and never prunes with 0
    # (Mic92/sops-nix pkgs/sops-install-secrets/main.go, pruneGenerations);
    # the manifest counts the previous ones, with "all" for never.
    keepGenerations = if cfg.keepGenerations == 0 then "all" else cfg.keepGenerations - 1;
    inherit (cfg)
      useSystemdActivation
      hostPublicKeys
      package
      ;
    checkPackage = cfg.validationPackage;
  };
  inherit (backend) hasRegular secretsForUsers;

  regularSnippets = backend.snippets {
    manifests = lib.optional hasRegular backend.manifestFile;
    # setupSecrets runs after `users` and `groups`: every owner exists, as
    # in sops-nix, so an unknown owner is an error rather than deferred.
    deferUnknownOwners = false;
  };
  forUsersSnippets = backend.snippets {
    manifests = [ backend.manifestForUsersFile ];
  };

  # sops-nix's validateSopsFiles checks of each sopsFile (manifest-for.nix),
  # naming each secret by its name option, as there.
  sopsFileProblems = shared.sopsFileProblems (_: s: s.name);
  ownerProblems =
    kind: items:
    lib.concatLists (
      lib.mapAttrsToList (
        name: s:
        lib.optional (s.uid != null && s.uid != 0 && s.owner != null) "sops.${kind}.${name}: set exactly one of owner and uid"
        ++ lib.optional (s.gid != null && s.gid != 0 && s.group != null) "sops.${kind}.${name}: set exactly one of group and gid"
      ) items
    );

  # What sops-nix can do and ageboot cannot: refused at build time, naming the option.
  unsupported =
    lib.optional (cfg.gnupg.home != null) "sops.gnupg.home"
    ++ lib.optional (cfg.gnupg.sshKeyPaths != [ ]) "sops.gnupg.sshKeyPaths"
    ++ lib.optional (cfg.age.plugins != [ ]) "sops.age.plugins";
in
{
  imports = [
    (lib.mkRenamedOptionModule [ "sops" "gnupgHome" ] [ "sops" "gnupg" "home" ])
    (lib.mkRenamedOptionModule [ "sops" "sshKeyPaths" ] [ "sops" "gnupg" "sshKeyPaths" ])
  ];

  options.sops = {
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Secrets to decrypt, each installed at /run/secrets/<name>.";
    };
    templates = mkOption {
      type = types.attrsOf templateType;
      default = { };
      description = "Templates for secret files, rendered to /run/secrets/rendered/<name>.";
    };
    placeholder = shared.placeholder ''
      The placeholder of each secret for {option}`sops.templates`: ageboot's
      (`ageboot placeholder NAME`), which it replaces at activation. A
      placeholder for a secret that is not declared, or that is
      neededForUsers (another generation), is an evaluation error.
    '';
    # As in nix/home-manager-sops.nix: nix/lib/sops-options.nix.
    inherit (shared)
      defaultSopsFile
      defaultSopsFormat
      log
      environment
      package
      ;
    defaultSopsKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = ''
        Default key used to look up all secrets. Ignored for binary, dotenv and ini; `""` means the whole file.
      '';
    };
    validateSopsFiles = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Check the sops files when the system is built (`ageboot check`): each
        file is in the Nix store and parses, each key path exists and holds a
        string, owners and groups are declared, and, with
        {option}`sops.hostPublicKeys`, a recipient is this host. No private
        key is read.
      '';
    };
    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 1;
      description = ''
        Number of secrets generations to keep, the current one included, as
        in sops-nix: 1 (the default) keeps only the current one; 0 never
        prunes (every switch adds a generation to the ramfs until reboot).
      '';
    };
    validationPackage = mkOption {
      type = types.package;
      # sops-nix: sops.package for a native build, the build platform's
      # package when cross compiling (modules/sops/default.nix).
      default = backend.defaultCheckPackage cfg.package;
      defaultText = literalExpression "config.sops.package when the build machine can run it, else the build platform's ageboot (pkgs.buildPackages)";
      description = ''
        The ageboot package that runs the build-time check
        ({option}`sops.validateSopsFiles`) on the build machine: by default
        {option}`sops.package` when the build machine can run the host's
        programs, and the build platform's ageboot when cross compiling.
      '';
    };
    useTmpfs = mkOption {
      type = types.bool;
      default = false;
      description = "Accepted for compatibility; ageboot mounts a tmpfs with noswap, or a ramfs (never swapped either way), and warns when this is set.";
    };
    useSystemdActivation = mkOption {
      type = types.bool;
      default = backend.sysusersEnabled || backend.nixosInitEnabled;
      defaultText = literalExpression "config.systemd.sysusers.enable || config.services.userborn.enable || config.system.nixos-init.enable";
      description = ''
        Install secrets with the units sops-install-secrets.service (and
        sops-install-secrets-for-users.service) instead of activation scripts;
        the default where users are not made by the `users` activation script.
      '';
    };
    # ageboot's own, as age.hostPublicKeys.
    hostPublicKeys = mkOption {
      type = types.listOf (types.either types.path types.str);
      default = [ ];
      example = literalExpression ''[ ./hosts/web1/ssh_host_ed25519_key.pub ]'';
      description = ''
        The host's SSH public keys (files, or the key lines), for the
        build-time check that each sops file has a recipient for this host
        (the age1 recipient derived from an ed25519 key, as ssh-to-age
        derives it, or the ssh key itself). Empty: that part is skipped.
      '';
    };

    age = {
      keyFile = shared.age.keyFile "/var/lib/sops-nix/key.txt";
      inherit (shared.age) plugins generateKey;
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = defaultImportKeys "ed25519";
        defaultText = lib.literalMD "The ed25519 keys from {option}`config.services.openssh.hostKeys`";
        description = "Paths to ssh keys used as age identities (the ed25519 key also as its ssh-to-age X25519 key).";
      };
    };

    gnupg = {
      home = shared.gnupg.home "/root/.gnupg";
      inherit (shared.gnupg) sshKeyPaths;
      package = shared.gnupg.package (pkgs.gnupg or null);
    };
  };

  config = lib.mkMerge [
    {
      # Placeholders for the regular secrets only; mkDefault as in sops-nix.
      sops.placeholder = lib.mapAttrs (_: s: lib.mkDefault (backend.placeholderOf s)) backend.regularSecrets;
      system.build.sops-nix-manifest = backend.manifestFile;
      system.build.sops-nix-users-manifest = backend.manifestForUsersFile;
      # Set, these mean PGP keys or plugins were meant to open the files:
      # refused whether or not secrets are declared yet.
      assertions = [
        {
          assertion = unsupported == [ ];
          message = ''
            ${lib.concatStringsSep ", " unsupported}: not supported by ageboot (nixosModules.sops): it
            decrypts with age keys only (the host's ssh key, sops.age.keyFile), not PGP, KMS or age
            plugins. Add an age recipient to the sops files (ageboot recipient; sops updatekeys) and
            unset these options.
          '';
        }
      ];
    }

    (lib.mkIf (cfg.secrets != { } || cfg.templates != { }) (
      lib.mkMerge [
        {
          assertions = [
            {
              assertion = identityPaths != [ ];
              message = noKeyMessage;
            }
            {
              assertion = !cfg.validateSopsFiles || sopsFileProblems == [ ];
              message = "sops.validateSopsFiles:\n${lib.concatMapStringsSep "\n" (x: "- ${x}") sopsFileProblems}";
            }
            {
              assertion = ownerProblems "secrets" cfg.secrets ++ ownerProblems "templates" cfg.templates == [ ];
              message = lib.concatStringsSep "\n" (ownerProblems "secrets" cfg.secrets ++ ownerProblems "templates" cfg.templates);
            }
            {
              assertion = cfg.age.generateKey -> cfg.age.keyFile != null;
              message = "sops.age.generateKey needs sops.age.keyFile (where the key is made).";
            }
            {
              # sops-nix's sops.package is sops-install-secrets; here the package runs as ageboot,
              # with ageboot's arguments: a configuration that kept its own would fail at boot.
              assertion = lib.getName cfg.package == "ageboot";
              message = "sops.package is ${lib.getName cfg.package}: with nixosModules.sops it must be the ageboot package (sops-nix's sops-install-secrets is not used). Remove the setting.";
            }
            {
              # The same for the check: it runs `ageboot check` with ageboot's arguments.
              assertion = !cfg.validateSopsFiles || lib.getName cfg.validationPackage == "ageboot";
              message = "sops.validationPackage is ${lib.getName cfg.validationPackage}: with nixosModules.sops the build-time check runs `ageboot check`, so it must be an ageboot package (for a cross build, the build platform's: pkgs.buildPackages). Remove the setting, or set sops.validateSopsFiles = false.";
            }
          ]
          ++ backend.assertions;

          warnings =
            lib.optional (cfg.environment != { }) "sops.environment (${lib.concatStringsSep ", " (lib.attrNames cfg.environment)}) is not used: ageboot runs no sops binary and reads none of its environment variables."
            ++ lib.optional cfg.useTmpfs "sops.useTmpfs is ignored: ageboot keeps secrets on a tmpfs with noswap, or a ramfs, which are never swapped.";

          system.checks = lib.optional cfg.validateSopsFiles backend.check;
          system.build.ageboot-sops = backend.build;

          system.activationScripts.generate-age-key = lib.mkIf cfg.age.generateKey (
            let
              escapedKeyFile = lib.escapeShellArg cfg.age.keyFile;
            in
            lib.stringAfter [ ] ''
              if [[ ! -f ${escapedKeyFile} ]]; then
                echo generating machine-specific age key...
                mkdir -p "$(dirname ${escapedKeyFile})"
                # age-keygen writes the key 0600.
                ${pkgs.age}/bin/age-keygen -o ${escapedKeyFile}
              fi
            ''
          );
        }

        (lib.mkIf (!cfg.useSystemdActivation) {
          system.activationScripts = {
            # Both run under `nixos-rebuild dry-activate` too, as sops-nix's do: a --dry-run there (nix/lib/activation.nix).
            setupSecretsForUsers = lib.mkIf (secretsForUsers != { }) (
              lib.stringAfter ([ "specialfs" ] ++ lib.optional cfg.age.generateKey "generate-age-key") forUsersSnippets.install
              // {
                supportsDryActivation = true;
              }
            );
            # Only where `users` is a snippet (not with systemd-sysusers or userborn; an assertion covers it).
            users = lib.mkIf (secretsForUsers != { } && !backend.sysusersEnabled) { deps = [ "setupSecretsForUsers" ]; };
            setupSecrets = lib.mkIf hasRegular (
              lib.stringAfter (
                [
                  "specialfs"
                  "users"
                  "groups"
                ]
                ++ lib.optional cfg.age.generateKey "generate-age-key"
              ) regularSnippets.install
              // {
                supportsDryActivation = true;
              }
            );
          };
        })

        (lib.mkIf cfg.useSystemdActivation {
          # No activation snippet, as sops-nix's systemd mode (generate-age-key aside, as
          # there); a switch re-decrypts through the -refresh units (nix/lib/nixos-backend.nix).
          systemd.services = backend.services;
        })
      ]
    ))
  ];
}
