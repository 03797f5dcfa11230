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

  # Users and groups made by a systemd unit, not by the `users` activation
  # script; nixos-init runs no activation scripts at all.
  sysusersEnabled =
    (options.systemd ? sysusers && config.systemd.sysusers.enable)
    || (options.services ? userborn && config.services.userborn.enable);
  nixosInitEnabled = options.system ? nixos-init && config.system.nixos-init.enable;

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

  regularSecrets = lib.filterAttrs (_: s: !s.neededForUsers) cfg.secrets;
  # Templates live in the regular manifest's generation: with them it exists even without regular secrets.
  hasRegular = regularSecrets != { } || cfg.templates != { };
  placeholderOf = secret: "<AGEBOOT:${builtins.hashString "sha256" secret.name}:PLACEHOLDER>";
  secretsForUsers = lib.filterAttrs (_: s: s.neededForUsers) cfg.secrets;

  manifestFor =
    secrets: secretsDir: secretsMountPoint: templates:
    import ./lib/manifest.nix {
      inherit
        secrets
        templates
        secretsDir
        secretsMountPoint
        ;
      inherit (cfg) identityPaths keepGenerations;
    };
  manifest = manifestFor regularSecrets cfg.secretsDir cfg.secretsMountPoint cfg.templates;
  manifestForUsers = manifestFor secretsForUsers cfg.secretsForUsersDir "${cfg.secretsForUsersDir}.d" { };
  manifestFile = pkgs.writeText "ageboot-manifest.json" (builtins.toJSON manifest);
  manifestForUsersFile = pkgs.writeText "ageboot-manifest-for-users.json" (
    builtins.toJSON manifestForUsers
  );
  # The for-users manifest first: those secrets are root's, needed by `users`.
  manifestFiles =
    lib.optional (secretsForUsers != { }) manifestForUsersFile
    ++ lib.optional hasRegular manifestFile;

  ageboot = lib.getExe cfg.package;
  snippets = import ./lib/activation.nix {
    inherit ageboot;
    manifests = manifestFiles;
    chownManifests = lib.optional hasRegular manifestFile;
    restartUnits =
      lib.optional hasRegular "ageboot.service"
      ++ lib.optional (secretsForUsers != { }) "ageboot-for-users.service";
  };

  identityDirectories = lib.unique (map (path: builtins.dirOf (toString path)) cfg.identityPaths);

  # Where a user's hashedPasswordFile would be served by ageboot, and whether
  # the chosen mode has it in place before users are created.
  underDir = dir: path: lib.hasPrefix "${dir}/" path;
  regularPaths = lib.mapAttrsToList (_: s: s.path) regularSecrets;
  servedByRegular =
    path:
    underDir cfg.secretsDir path || underDir cfg.secretsMountPoint path || lib.elem path regularPaths;
  passwordFileUsers = lib.filterAttrs (_: u: (u.hashedPasswordFile or null) != null) users;
  unservedPasswordFiles = lib.optionals cfg.useSystemdActivation (
    lib.mapAttrsToList (name: u: "users.users.${name}.hashedPasswordFile = \"${u.hashedPasswordFile}\"") (
      lib.filterAttrs (_: u: servedByRegular u.hashedPasswordFile) passwordFileUsers
    )
  );

  # Build-time check (age.validateSecrets): `ageboot check` on the secrets
  # whose file is in the Nix store (a string path outside it is read at boot
  # only), with the host's public keys and the users and groups this
  # configuration declares.
  inStore = secret: builtins.hasContext "${secret.file}";
  uncheckedNames = lib.attrNames (lib.filterAttrs (_: s: !(inStore s)) cfg.secrets);
  # A template may name any regular secret: checked only when all of them are,
  # and its file (if any) is in the store.
  templateInStore = t: t.file == null || builtins.hasContext "${t.file}";
  checkedTemplates =
    if lib.all inStore (lib.attrValues regularSecrets) then lib.filterAttrs (_: templateInStore) cfg.templates else { };
  uncheckedTemplates = lib.attrNames (removeAttrs cfg.templates (lib.attrNames checkedTemplates));
  # One manifest per directory, as at boot, so custom paths are judged against
  # the right secretsDir.
  checkManifestFiles =
    lib.optional hasRegular (
      pkgs.writeText "ageboot-check-manifest.json" (
        builtins.toJSON (
          manifestFor (lib.filterAttrs (_: inStore) regularSecrets) cfg.secretsDir cfg.secretsMountPoint checkedTemplates
        )
      )
    )
    ++ lib.optional (secretsForUsers != { }) (
      pkgs.writeText "ageboot-check-manifest-for-users.json" (
        builtins.toJSON (
          manifestFor (lib.filterAttrs (_: inStore) secretsForUsers) cfg.secretsForUsersDir "${cfg.secretsForUsersDir}.d" { }
        )
      )
    );
  usersFile = pkgs.writeText "ageboot-users.json" (
    builtins.toJSON {
      users = lib.unique (lib.mapAttrsToList (_: u: u.name) users);
      groups = lib.unique (lib.mapAttrsToList (_: g: g.name) config.users.groups);
    }
  );
  hostKeyFile =
    index: key:
    if builtins.isString key && !(lib.hasPrefix "/" key) then
      pkgs.writeText "ageboot-host-key-${toString index}.pub" key
    else
      key;
  hostKeyFiles = lib.imap0 hostKeyFile cfg.hostPublicKeys;
  quote = lib.escapeShellArg;
  checkDerivation =
    pkgs.runCommand "ageboot-check-secrets"
      {
        # ageboot reads only public data here: ciphertext headers, public keys,
        # the declared users and groups. No private key, no root.
        preferLocalBuild = true;
      }
      ''
        ${lib.optionalString (cfg.hostPublicKeys == [ ]) ''
          echo "ageboot check: no host public key known (age.hostPublicKeys is empty): not checking that each file is encrypted to this host" >&2
        ''}
        ${lib.optionalString (uncheckedNames != [ ]) ''
          echo ${quote "ageboot check: not checked at build time (file outside the Nix store, read at boot): ${lib.concatStringsSep ", " uncheckedNames}"} >&2
        ''}
        ${lib.optionalString (uncheckedTemplates != [ ]) ''
          echo ${quote "ageboot check: templates not checked at build time (a secret or the template's file is outside the Nix store): ${lib.concatStringsSep ", " uncheckedTemplates}"} >&2
        ''}
        ${lib.concatMapStringsSep "\n" (
          manifest:
          "${quote ageboot} check --manifest ${quote "${manifest}"} ${
            lib.concatMapStringsSep " " (key: "--host-key ${quote "${key}"}") hostKeyFiles
          } --users ${quote "${usersFile}"}"
        ) checkManifestFiles}
        touch $out
      '';

  systemdHardening = {
    # The same hardening as systemd/ageboot.service: nothing that gives the
    # unit a private mount namespace, so the ramfs is visible host-wide.
    UMask = "0077";
    LimitCORE = 0;
    NoNewPrivileges = true;
    CapabilityBoundingSet = [
      "CAP_SYS_ADMIN"
      "CAP_CHOWN"
      "CAP_FOWNER"
      "CAP_DAC_OVERRIDE"
      "CAP_DAC_READ_SEARCH"
      "CAP_FSETID"
    ];
    RestrictAddressFamilies = [ "AF_UNIX" ];
    IPAddressDeny = "any";
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    ProtectClock = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "@mount"
    ];
    SystemCallErrorNumber = "EPERM";
  };
  agebootUnit = manifestPath: {
    restartTriggers = [ manifestPath ];
    # flock and mount (util-linux), systemd-notify, getent (NSS users and groups).
    path = [
      pkgs.util-linux
      config.systemd.package
      pkgs.getent
    ];
    unitConfig = {
      DefaultDependencies = false;
      RequiresMountsFor = identityDirectories;
    };
    serviceConfig = systemdHardening // {
      Type = "oneshot";
      RemainAfterExit = true;
      ExecStart = "${ageboot} activate --manifest ${manifestPath}";
      NotifyAccess = "all";
    };
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
      default = 1;
      description = "How many previous generations of secrets to keep besides the current one.";
    };
    useSystemdActivation = mkOption {
      type = types.bool;
      default = sysusersEnabled || nixosInitEnabled;
      defaultText = literalExpression "config.systemd.sysusers.enable || config.services.userborn.enable || config.system.nixos-init.enable";
      description = ''
        Decrypt with systemd units (ageboot.service before sysinit.target,
        ageboot-for-users.service before systemd-sysusers/userborn for secrets
        with `neededForUsers`) instead of activation scripts. The default
        where users are not made by the `users` activation script.
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
            assertion = lib.all (t: (t.content == null) != (t.file == null)) (lib.attrValues cfg.templates);
            message = "age.templates.<name>: set exactly one of content and file (${
              lib.concatStringsSep ", " (
                lib.attrNames (lib.filterAttrs (_: t: (t.content == null) == (t.file == null)) cfg.templates)
              )
            }).";
          }
          {
            assertion = !cfg.useSystemdActivation -> !(sysusersEnabled || nixosInitEnabled);
            message = ''
              age.useSystemdActivation = false needs the `users` activation script, which
              systemd-sysusers, userborn and nixos-init replace: set age.useSystemdActivation = true.
            '';
          }
          {
            assertion = unservedPasswordFiles == [ ];
            message = ''
              With age.useSystemdActivation, ageboot.service runs after users are created, so
              these password files are missing when they are read:
                ${lib.concatStringsSep "\n    " unservedPasswordFiles}
              Set neededForUsers = true on those secrets (they move to ${cfg.secretsForUsersDir}),
              or use activation scripts (age.useSystemdActivation = false).
            '';
          }
          {
            assertion = lib.all (s: s.owner == "0" || s.owner == "root") (lib.attrValues secretsForUsers)
              && lib.all (s: s.group == "0" || s.group == "root") (lib.attrValues secretsForUsers);
            message = "age.secrets.<name>.neededForUsers: such secrets are decrypted before users exist and must be owned by root (owner and group \"0\" or \"root\").";
          }
          {
            # systemd-sysusers reads a hashedPasswordFile (as a credential) only
            # when it creates the user; sops-nix asserts the same (Mic92/sops-nix#475).
            assertion =
              (secretsForUsers != { } && options.systemd ? sysusers && config.systemd.sysusers.enable)
              -> config.users.mutableUsers;
            message = ''
              age.secrets.<name>.neededForUsers with systemd-sysusers needs users.mutableUsers = true
              (sysusers sets a password only when it creates the user); userborn has no such limit.
            '';
          }
        ];

        warnings =
          lib.optional (options.age.ageBin.highestPrio < (lib.mkOptionDefault null).priority) ''
            age.ageBin is set, but ageboot decrypts natively and never runs it. Not supported:
            age plugins (AGE-PLUGIN-... identities, age1<plugin>1... recipients such as
            age-plugin-yubikey or age-plugin-tpm) and passphrase-encrypted (scrypt) files.
          '';

        system.checks = lib.optional cfg.validateSecrets checkDerivation;

        # For people and tests: what the module generated.
        system.build.ageboot = {
          manifest = manifestFile;
          manifestForUsers = manifestForUsersFile;
          users = usersFile;
          check = checkDerivation;
        };
      }

      (mkIf (!cfg.useSystemdActivation) {
        system.activationScripts = {
          agenixInstall.text = snippets.install;
          agenixChown.text = snippets.chown;
          # So user passwords can be secrets (agenix does the same). Only
          # where `users` is a snippet, not the empty string that
          # systemd-sysusers and userborn leave (the assertion above covers it).
          users = mkIf (!sysusersEnabled) { deps = [ "agenixInstall" ]; };
        };
      })

      (mkIf cfg.useSystemdActivation {
        # Restart the units on every switch, not only when a manifest changes.
        system.activationScripts.agenixInstall = {
          text = snippets.requestRestart;
          supportsDryActivation = true;
        };

        systemd.services.ageboot = mkIf hasRegular (mkMerge [
          (agebootUnit manifestFile)
          {
            description = "Decrypt age secrets (ageboot)";
            wantedBy = [ "sysinit.target" ];
            # Restarted, before ordinary units, on a switch (sysinit-reactivation.target).
            requiredBy = [ "sysinit-reactivation.target" ];
            before = [
              "sysinit.target"
              "shutdown.target"
              "sysinit-reactivation.target"
            ]
            # networkd starts before sysinit.target (DefaultDependencies=no) and
            # reads WireGuard keys and the like.
            ++ lib.optional (config.systemd.network.enable or false) "systemd-networkd.service";
            conflicts = [ "shutdown.target" ];
            wants = [ "local-fs.target" ];
            after = [
              "local-fs.target"
              "systemd-sysusers.service"
              "userborn.service"
              "ageboot-for-users.service"
            ];
          }
        ]);

        # Root's secrets for users' passwords, before the users are made.
        # Not after local-fs.target: userborn runs before it (it is ordered
        # before systemd-tmpfiles-setup-dev.service), so that would be a cycle;
        # identity paths must be on file systems mounted in the initrd
        # (neededForBoot), as with activation scripts.
        systemd.services.ageboot-for-users = mkIf (secretsForUsers != { }) (mkMerge [
          (agebootUnit manifestForUsersFile)
          {
            description = "Decrypt age secrets for users' passwords (ageboot)";
            wantedBy = [
              "sysinit.target"
              "systemd-sysusers.service"
              "userborn.service"
            ];
            requiredBy = [ "sysinit-reactivation.target" ];
            before = [
              "systemd-sysusers.service"
              "userborn.service"
              "sysinit.target"
              "shutdown.target"
              "sysinit-reactivation.target"
            ];
            conflicts = [ "shutdown.target" ];
          }
        ]);
      })
    ]))
  ];
}
