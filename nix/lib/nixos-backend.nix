# What the two NixOS modules generate alike once their options are read:
# nix/module.nix (agenix's age.*) and nix/sops.nix (sops-nix's sops.*) each
# turn their options into the settings below and take from here the
# manifests, the build-time check, the shared assertions and the systemd
# units. Each module keeps its own option names, activation-script names and
# messages' option paths; nothing here reads an option of its own.
#
# settings:
#   prefix          "age" or "sops": the option path in messages
#   secrets         attrset of { name, file, path, mode, owner, group, symlink,
#                   restartUnits, reloadUnits, neededForUsers, format?, key? }
#   templates       attrset of { name, content or file, path, mode, owner,
#                   group, symlink, restartUnits, reloadUnits }
#   secretsDir, secretsMountPoint, secretsForUsersDir, identityPaths,
#   useSystemdActivation, hostPublicKeys
#   keepGenerations the manifest's: previous generations kept besides the
#                   current one, or "all" (never prune); each module maps
#                   its own option onto it (docs/lifecycle.md, "Pruning")
#   hostPublicKeysOption  the option that holds the host's public keys
#   package         the ageboot package (the host's: it runs at boot)
#   checkPackage    the ageboot that runs the build-time check, on the build
#                   machine; defaultCheckPackage below gives the usual choice
#   unit, unitForUsers    the names of the systemd units (without .service)
#   unitAliases     aliases of the unit that decrypts last (the regular one, or the
#                   for-users one when there are no regular secrets): the name
#                   the drop-in's original gives its single unit, so that
#                   `after`/`requires` on that name keep working
#   kind            what the units' descriptions call the secrets ("age", "sops")
{
  config,
  options,
  lib,
  pkgs,
}:
settings:
let
  cfg = settings;
  inherit (settings) prefix;
  users = config.users.users;
  # Users and groups made by a systemd unit, not by the `users` activation
  # script; nixos-init runs no activation scripts at all.
  sysusersEnabled =
    (options.systemd ? sysusers && config.systemd.sysusers.enable)
    || (options.services ? userborn && config.services.userborn.enable);
  nixosInitEnabled = options.system ? nixos-init && config.system.nixos-init.enable;

  regularSecrets = lib.filterAttrs (_: s: !s.neededForUsers) cfg.secrets;
  # Templates live in the regular manifest's generation: with them it exists even without regular secrets.
  hasRegular = regularSecrets != { } || cfg.templates != { };
  # The placeholder `ageboot placeholder NAME` prints (src/templates/placeholder.ts).
  placeholderOf = secret: "<AGEBOOT:${builtins.hashString "sha256" secret.name}:PLACEHOLDER>";
  secretsForUsers = lib.filterAttrs (_: s: s.neededForUsers) cfg.secrets;

  manifestFor =
    secrets: secretsDir: secretsMountPoint: templates:
    import ./manifest.nix {
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
  ageboot = lib.getExe cfg.package;
  checkAgeboot = lib.getExe cfg.checkPackage;
  identityDirectories = lib.unique (map (path: builtins.dirOf (toString path)) cfg.identityPaths);

  # Where a user's hashedPasswordFile would be served by ageboot, and whether
  # the chosen mode has it in place before users are created.
  underDir = dir: path: lib.hasPrefix "${dir}/" path;
  regularPaths = lib.mapAttrsToList (_: s: s.path) regularSecrets;
  servedByRegular =
    path:
    underDir cfg.secretsDir path || underDir cfg.secretsMountPoint path || lib.elem path regularPaths;
  passwordFileUsers = lib.filterAttrs (_: u: (u.hashedPasswordFile or null) != null) users;
  forUsersPaths = lib.mapAttrsToList (_: s: s.path) secretsForUsers;
  servedByForUsers =
    path:
    underDir cfg.secretsForUsersDir path
    || underDir "${cfg.secretsForUsersDir}.d" path
    || lib.elem path forUsersPaths;
  describePasswordFiles = lib.mapAttrsToList (
    name: u: "users.users.${name}.hashedPasswordFile = \"${u.hashedPasswordFile}\""
  );
  unservedPasswordFiles = lib.optionals cfg.useSystemdActivation (
    describePasswordFiles (lib.filterAttrs (_: u: servedByRegular u.hashedPasswordFile) passwordFileUsers)
  );
  # With systemd activation but users made by the `users` activation script
  # (no systemd-sysusers, userborn or nixos-init), stage 2 reads every
  # password file before systemd starts any unit, the for-users one included:
  # those users would get no password, silently.
  scriptedUsersPasswordFiles = lib.optionals (cfg.useSystemdActivation && !(sysusersEnabled || nixosInitEnabled)) (
    describePasswordFiles (lib.filterAttrs (_: u: servedByForUsers u.hashedPasswordFile) passwordFileUsers)
  );

  # Build-time check: `ageboot check` on the secrets whose file is in the Nix
  # store (a string path outside it is read at boot only), with the host's
  # public keys and the users and groups this configuration declares.
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
        # ageboot reads only public data here: ciphertext headers, sops
        # metadata, public keys, the declared users and groups. No private
        # key, no root.
        preferLocalBuild = true;
      }
      ''
        ${lib.optionalString (cfg.hostPublicKeys == [ ]) ''
          echo "ageboot check: no host public key known (${cfg.hostPublicKeysOption} is empty): not checking that each file is encrypted to this host" >&2
        ''}
        ${lib.optionalString (uncheckedNames != [ ]) ''
          echo ${quote "ageboot check: not checked at build time (file outside the Nix store, read at boot): ${lib.concatStringsSep ", " uncheckedNames}"} >&2
        ''}
        ${lib.optionalString (uncheckedTemplates != [ ]) ''
          echo ${quote "ageboot check: templates not checked at build time (a secret or the template's file is outside the Nix store): ${lib.concatStringsSep ", " uncheckedTemplates}"} >&2
        ''}
        ${lib.concatMapStringsSep "\n" (
          manifest:
          "${quote checkAgeboot} check --manifest ${quote "${manifest}"} ${
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
      # chattr +i / -i on the secrets' files (src/activation/immutable.ts)
      "CAP_LINUX_IMMUTABLE"
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
      ExecStart = "${ageboot} activate --manifest ${manifestPath}";
      NotifyAccess = "all";
      # Exit 7: every secret installed, only custom paths failed (named in
      # the journal). A local user can make their own custom path fail; that
      # must not fail this unit and every unit that Requires= it, nor make a
      # switch report failure (docs/activation.md, "Exit 7, and the units").
      SuccessExitStatus = [ 7 ];
    };
  };

  # How a switch re-runs ageboot without restarting what depends on it.
  #
  # switch-to-configuration (NixOS/nixpkgs pkgs/by-name/sw/switch-to-configuration-ng/
  # src/src/main.rs, read at 00401fd7e581bc669e0cc61c088427d336031312) stops and
  # starts, or restarts, an active unit whose file changed (restartTriggers among
  # it) or that the activation script put on /run/nixos/activation-restart-list;
  # systemd propagates that stop or restart to every unit with Requires= (or
  # BindsTo=) on it. So the boot unit never takes part in a switch
  # (restartIfChanged = false: X-RestartIfChanged=false, listed under "NOT
  # restarting the following changed units" in the switch's output), and nothing
  # puts it on a restart list.
  #
  # After the activation script and a daemon-reload, every switch and `test`
  # restarts sysinit-reactivation.target (a plain target, nixos/modules/system/
  # boot/systemd.nix) and waits for it, before it restarts ordinary units; at
  # the end it starts every active target again, that one included. The refresh
  # unit below runs once per switch from that: wanted by the target (the first
  # switch after boot, when the target was never started, starts it), PartOf= it
  # (every later restart of the target restarts it), RemainAfterExit (so the
  # closing start of the active target finds it active and leaves it), and
  # restartIfChanged = false (so its own new unit file does not run it a second
  # time). It runs the new configuration's manifest, ordered before the target.
  # Nothing depends on it: its runs restart only the units whose secrets changed,
  # through each secret's restartUnits/reloadUnits (`systemctl --no-block
  # try-restart`). At boot the target is not started: the boot unit alone
  # decrypts. A failed refresh is a failed unit, which the switch reports.
  bootUnit =
    manifestPath:
    lib.mkMerge [
      (agebootUnit manifestPath)
      {
        restartIfChanged = false;
        serviceConfig.RemainAfterExit = true;
      }
    ];
  refreshUnit =
    manifestPath: bootUnitName:
    lib.mkMerge [
      (agebootUnit manifestPath)
      {
        description = "Re-decrypt ${cfg.kind} secrets on a configuration switch (ageboot)";
        wantedBy = [ "sysinit-reactivation.target" ];
        partOf = [ "sysinit-reactivation.target" ];
        restartIfChanged = false;
        # After its boot unit: when the switch starts that too (it had
        # failed), the two runs do not wait on each other's lock.
        after = [ "${bootUnitName}.service" ];
        before = [
          "sysinit-reactivation.target"
          "shutdown.target"
        ];
        conflicts = [ "shutdown.target" ];
        serviceConfig.RemainAfterExit = true;
      }
    ];
  refreshName = name: "${name}-refresh";
in
{
  # The ageboot for the build-time check: `package` itself where the build
  # machine can run the host's programs (a native build: a custom package is
  # honoured), else the build platform's own (pkgs.buildPackages), as
  # sops-nix picks its validationPackage (modules/sops/default.nix). A
  # cross-built host's ageboot would not run in the check's sandbox.
  defaultCheckPackage =
    package:
    if pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform then
      package
    else
      pkgs.buildPackages.callPackage ../package.nix { };

  inherit
    regularSecrets
    secretsForUsers
    hasRegular
    placeholderOf
    manifestFile
    manifestForUsersFile
    sysusersEnabled
    nixosInitEnabled
    ;

  # The shell snippets (nix/lib/activation.nix) for these manifests.
  snippets =
    args:
    import ./activation.nix (
      {
        inherit ageboot;
      }
      // args
    );

  assertions = [
    {
      assertion = !cfg.useSystemdActivation -> !(sysusersEnabled || nixosInitEnabled);
      message = ''
        ${prefix}.useSystemdActivation = false needs the `users` activation script, which
        systemd-sysusers, userborn and nixos-init replace: set ${prefix}.useSystemdActivation = true.
      '';
    }
    {
      assertion = unservedPasswordFiles == [ ];
      message = ''
        With ${prefix}.useSystemdActivation, ${cfg.unit}.service runs after users are created, so
        these password files are missing when they are read:
          ${lib.concatStringsSep "\n    " unservedPasswordFiles}
        Set neededForUsers = true on those secrets (they move to ${cfg.secretsForUsersDir}),
        or use activation scripts (${prefix}.useSystemdActivation = false).
      '';
    }
    {
      assertion = scriptedUsersPasswordFiles == [ ];
      message = ''
        ${prefix}.useSystemdActivation = true, but users are created by the `users` activation
        script (no systemd-sysusers, userborn or nixos-init), which reads these password files
        before ${cfg.unitForUsers}.service can run, so they would be missing:
          ${lib.concatStringsSep "\n    " scriptedUsersPasswordFiles}
        Use activation scripts (${prefix}.useSystemdActivation = false, which decrypts them
        before `users`), or enable services.userborn or systemd.sysusers.
      '';
    }
    {
      assertion = lib.all (s: s.owner == "0" || s.owner == "root") (lib.attrValues secretsForUsers)
        && lib.all (s: s.group == "0" || s.group == "root") (lib.attrValues secretsForUsers);
      message = "${prefix}.secrets.<name>.neededForUsers: such secrets are decrypted before users exist and must be owned by root (owner and group \"0\" or \"root\").";
    }
    {
      # systemd-sysusers reads a hashedPasswordFile (as a credential) only
      # when it creates the user; sops-nix asserts the same (Mic92/sops-nix#475).
      assertion =
        (secretsForUsers != { } && options.systemd ? sysusers && config.systemd.sysusers.enable)
        -> config.users.mutableUsers;
      message = ''
        ${prefix}.secrets.<name>.neededForUsers with systemd-sysusers needs users.mutableUsers = true
        (sysusers sets a password only when it creates the user); userborn has no such limit.
      '';
    }
  ];

  check = checkDerivation;
  # For people and tests: what the module generated.
  build = {
    manifest = manifestFile;
    manifestForUsers = manifestForUsersFile;
    users = usersFile;
    check = checkDerivation;
  };

  # The units of systemd activation (useSystemdActivation).
  services = {
    ${cfg.unit} = lib.mkIf hasRegular (
      lib.mkMerge [
        (bootUnit manifestFile)
        {
          description = "Decrypt ${cfg.kind} secrets (ageboot)";
          aliases = cfg.unitAliases or [ ];
          wantedBy = [ "sysinit.target" ];
          # Started again by a switch if it is not active (it failed at boot),
          # before ordinary units; never restarted (see refreshUnit).
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
            "${cfg.unitForUsers}.service"
          ];
        }
      ]
    );
    # Root's secrets for users' passwords, before the users are made.
    # Not after local-fs.target: userborn runs before it (it is ordered
    # before systemd-tmpfiles-setup-dev.service), so that would be a cycle;
    # identity paths must be on file systems mounted in the initrd
    # (neededForBoot), as with activation scripts.
    ${cfg.unitForUsers} = lib.mkIf (secretsForUsers != { }) (
      lib.mkMerge [
        (bootUnit manifestForUsersFile)
        {
          description = "Decrypt ${cfg.kind} secrets for users' passwords (ageboot)";
          aliases = lib.optionals (!hasRegular) (cfg.unitAliases or [ ]);
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
      ]
    );
    # The same order against users' creation as the boot units: at a switch
    # that restarts userborn or systemd-sysusers in the same transaction, the
    # passwords are decrypted before users are made, the regular secrets
    # (their owners) after.
    ${refreshName cfg.unit} = lib.mkIf hasRegular (
      lib.mkMerge [
        (refreshUnit manifestFile cfg.unit)
        {
          after = [
            "systemd-sysusers.service"
            "userborn.service"
          ]
          ++ lib.optional (secretsForUsers != { }) "${refreshName cfg.unitForUsers}.service";
        }
      ]
    );
    ${refreshName cfg.unitForUsers} = lib.mkIf (secretsForUsers != { }) (
      lib.mkMerge [
        (refreshUnit manifestForUsersFile cfg.unitForUsers)
        {
          before = [
            "systemd-sysusers.service"
            "userborn.service"
          ];
        }
      ]
    );
  };
}
