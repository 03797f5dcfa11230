# home-manager module: a drop-in for sops-nix's (Mic92/sops-nix,
# modules/home-manager/sops.nix and templates.nix; the flake's
# homeManagerModules.sops), backed by `ageboot activate --user`
# (docs/home-manager.md, docs/sops.md). The same sops.* options, types and
# defaults; what ageboot cannot do (PGP, age plugins) is an assertion that
# names the option, as nix/sops.nix does on the NixOS side.
#
# Where things go, as sops-nix puts them:
# - each secret at sops.secrets.<name>.path, by default
#   ~/.config/sops-nix/secrets/<name> (sops.defaultSymlinkPath/<name>), and
#   each template at ~/.config/sops-nix/secrets/rendered/<name>;
# - the plaintext in generations under sops.defaultSecretsMountPoint
#   (`%r/secrets.d`, %r being $XDG_RUNTIME_DIR), never in the home.
# One difference: sops-nix makes defaultSymlinkPath itself a symlink to the
# current generation; ageboot keeps that link inside $XDG_RUNTIME_DIR (beside
# the generations: `%r/secrets`) and makes defaultSymlinkPath a directory of
# one symlink per secret, so the same paths resolve to the same files.
#
# It runs, under sops-nix's names so that units and activation entries
# ordered after them keep their order:
# - at login: the user unit sops-nix.service (default.target);
# - on `home-manager switch`: the home.activation entry `sops-nix`.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types literalExpression;
  cfg = config.sops;

  # sops-nix replaces `%r` by $XDG_RUNTIME_DIR (pkgs/sops-install-secrets
  # main.go, replaceRuntimeDir); ageboot expands a leading ${XDG_RUNTIME_DIR}
  # in --user mode. Only a leading `%r` is meaningful in an absolute path; any
  # other `%` is refused by an assertion below.
  runtimePath = path: if lib.hasPrefix "%r" path then "\${XDG_RUNTIME_DIR}" + lib.removePrefix "%r" path else path;
  otherPercent = path: lib.hasInfix "%" (lib.removePrefix "%r" path);

  # A path as a bash word: a leading %r becomes "$XDG_RUNTIME_DIR" (the script
  # stops when it is not set), the rest is quoted.
  shellWord =
    path:
    if lib.hasPrefix "%r" path then
      "\"\${XDG_RUNTIME_DIR:?XDG_RUNTIME_DIR is not set}\"" + lib.escapeShellArg (lib.removePrefix "%r" path)
    else
      lib.escapeShellArg path;

  secretsMountPoint = runtimePath cfg.defaultSecretsMountPoint;
  # The link to the current generation, beside the generations (sops-nix's
  # NixOS layout: /run/secrets beside /run/secrets.d); in the option's own
  # terms (%r), then as the manifest has it.
  secretsDirOption =
    if lib.hasSuffix ".d" cfg.defaultSecretsMountPoint then
      lib.removeSuffix ".d" cfg.defaultSecretsMountPoint
    else
      "${cfg.defaultSecretsMountPoint}.current";
  secretsDir = runtimePath secretsDirOption;
  inRuntimeDir =
    path: lib.any (prefix: lib.hasPrefix prefix path) [ "\${XDG_RUNTIME_DIR}/" "$XDG_RUNTIME_DIR/" "/run/user/" ];

  # ageboot's placeholder (`ageboot placeholder NAME`, src/templates/placeholder.ts), as in nix/sops.nix.
  placeholderOf = secret: "<AGEBOOT:${builtins.hashString "sha256" secret.name}:PLACEHOLDER>";

  # The declarations this module and nix/sops.nix share word for word; each
  # option below names where it comes from.
  shared = import ./lib/sops-options.nix { inherit lib pkgs cfg; };
  # The user unit and home.activation entry, shared with nix/home-manager.nix.
  userUnit = import ./lib/user-unit.nix { inherit lib; };

  secretType = types.submodule (
    { name, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
          description = "Name of the file in the generation ($XDG_RUNTIME_DIR/secrets/<name>).";
        };
        key = shared.secret.key name;
        path = mkOption {
          type = types.str;
          default = "${cfg.defaultSymlinkPath}/${name}";
          description = ''
            Path where the secret is symlinked to. A leading `%r` is
            $XDG_RUNTIME_DIR.
          '';
        };
        format = shared.secret.format [
          "yaml"
          "json"
          "binary"
          "ini"
          "dotenv"
        ];
        mode = mkOption {
          type = types.str;
          default = "0400";
          description = "Permissions mode of the secret in octal.";
        };
        sopsFile = mkOption {
          type = types.path;
          default = cfg.defaultSopsFile;
          defaultText = literalExpression "\${config.sops.defaultSopsFile}";
          description = "Sops file the secret is loaded from.";
        };
      };
    }
  );

  templateType = types.submodule (
    { config, ... }:
    {
      options = {
        name = mkOption {
          type = types.singleLineStr;
          default = config._module.args.name;
          description = "Name of the rendered file in the generation's rendered/ directory.";
        };
        path = mkOption {
          type = types.singleLineStr;
          default = "${hmConfig.xdg.configHome}/sops-nix/secrets/rendered/${config.name}";
          defaultText = literalExpression ''"''${config.xdg.configHome}/sops-nix/secrets/rendered/''${name}"'';
          description = "Path where the rendered file is placed (a symlink into the generation).";
        };
        inherit (shared.template) content;
        mode = mkOption {
          type = types.singleLineStr;
          default = "0400";
          description = "Permissions mode of the rendered file in octal.";
        };
        file = mkOption {
          type = types.path;
          default = pkgs.writeText config.name config.content;
          defaultText = literalExpression "pkgs.writeText config.name config.content";
          description = "File used as the template, when {option}`content` is empty (sops-nix reads content first).";
        };
      };
    }
  );
  hmConfig = config;

  identityPaths = lib.optional (cfg.age.keyFile != null) cfg.age.keyFile ++ cfg.age.sshKeyPaths;

  manifest = {
    version = 1;
    inherit secretsDir secretsMountPoint;
    # sops-nix counts the current generation and never prunes with 0 (the same
    # sops-install-secrets as the NixOS module: docs/lifecycle.md, "Pruning");
    # the manifest counts the previous ones, with "all" for never.
    keepGenerations = if cfg.keepGenerations == 0 then "all" else cfg.keepGenerations - 1;
    identityPaths = map toString identityPaths;
    secrets = lib.mapAttrs' (
      _: s:
      lib.nameValuePair s.name {
        file = "${s.sopsFile}";
        inherit (s) format key mode;
        path = runtimePath s.path;
        symlink = true;
      }
    ) cfg.secrets;
  }
  // lib.optionalAttrs (cfg.templates != { }) {
    # sops-install-secrets reads `content` when it is not empty, else `file`.
    templates = lib.mapAttrs' (
      _: t:
      lib.nameValuePair t.name (
        {
          inherit (t) mode;
          path = runtimePath t.path;
          symlink = true;
        }
        // (if t.content != "" then { inherit (t) content; } else { file = "${t.file}"; })
      )
    ) cfg.templates;
  };
  # The build-time check, where sops-nix has it: in the manifest's own
  # checkPhase (sops-nix runs `sops-install-secrets -check-mode=sopsfile`),
  # with validateSopsFiles. `ageboot check` reads no private key: each sops
  # file parses, each key path exists and holds a string, each template's
  # placeholders name a declared secret. It reads manifests as a host's, so
  # the runtime directory, known only at login, is given a stand-in path;
  # every file is the user's, so no owner is named (root, declared below).
  checkRuntimeDir = "/run/user/ageboot-check";
  forCheck =
    path:
    if lib.hasPrefix "\${XDG_RUNTIME_DIR}/" path then checkRuntimeDir + lib.removePrefix "\${XDG_RUNTIME_DIR}" path else path;
  withCheckPaths = lib.mapAttrs (_: item: item // { path = forCheck item.path; });
  checkManifest =
    manifest
    // {
      secretsDir = forCheck secretsDir;
      secretsMountPoint = forCheck secretsMountPoint;
      secrets = withCheckPaths manifest.secrets;
    }
    // lib.optionalAttrs (manifest ? templates) { templates = withCheckPaths manifest.templates; };
  # The build machine's ageboot when it cannot run the host's (as nix/lib/nixos-backend.nix picks it).
  checkPackage =
    if pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform then
      cfg.package
    else
      pkgs.buildPackages.callPackage ./package.nix { };
  # A quoted here-document: nothing in the JSON (one line) is expanded.
  checkPhase = lib.optionalString cfg.validateSopsFiles ''
    cat > ageboot-check-manifest.json <<'AGEBOOT_CHECK_MANIFEST'
    ${builtins.toJSON checkManifest}
    AGEBOOT_CHECK_MANIFEST
    echo '{"users":["root"],"groups":["root"]}' > ageboot-check-users.json
    ${lib.getExe checkPackage} check --manifest ageboot-check-manifest.json --users ageboot-check-users.json
  '';
  manifestFile = pkgs.writeTextFile {
    name = "ageboot-home-sops-manifest.json";
    text = builtins.toJSON manifest;
    inherit checkPhase;
  };
  activate = "${lib.getExe cfg.package} activate --user --manifest ${manifestFile}";

  # Before each run: the age key made when asked for (sops-nix's generateKey),
  # and sops-nix's own link at defaultSymlinkPath removed (it pointed at
  # sops-nix's generation; ageboot makes a directory there, and refuses to
  # walk through a symlink the user could have placed). Never ageboot's own
  # link: with sops-nix's README paths (defaultSymlinkPath =
  # /run/user/UID/secrets, defaultSecretsMountPoint = /run/user/UID/secrets.d)
  # defaultSymlinkPath IS secretsDir, the link to the current generation, and
  # removing it before every run would leave no generation current (a failed
  # secret would then install the rest, the first-run policy, and a reader
  # would find nothing). That link is known by where it is (the same name in
  # the same directory, compared by device and inode, so /var/run for /run
  # does not fool it), not by where it points: sops-nix's generations are in
  # the same %r/secrets.d, numbered the same way, and a link sops-nix left
  # elsewhere (~/.config/sops-nix/secrets) must go whatever it names.
  escapedKeyFile = lib.escapeShellArg cfg.age.keyFile;
  # Each step ends the script on failure: it also runs inside an `if` in
  # home.activation, where bash ignores `set -e`. Tools from the store, as
  # sops-nix's script has them: a user unit's PATH may lack them.
  coreutils = "${pkgs.coreutils}/bin";
  prepareText =
    lib.optionalString cfg.age.generateKey ''
      if [[ ! -f ${escapedKeyFile} ]]; then
        echo "generating machine-specific age key..."
        # age-keygen writes the key 0600.
        ${coreutils}/mkdir -p "$(${coreutils}/dirname ${escapedKeyFile})" && ${pkgs.age}/bin/age-keygen -o ${escapedKeyFile} || exit 1
      fi
    ''
    + ''
      sopsNixLink=$(${coreutils}/realpath --canonicalize-missing --no-symlinks -- ${shellWord cfg.defaultSymlinkPath}) || exit 1
      agebootLink=$(${coreutils}/realpath --canonicalize-missing --no-symlinks -- ${shellWord secretsDirOption}) || exit 1
      if [[ -L "$sopsNixLink" ]] && ! [[ "''${sopsNixLink##*/}" == "''${agebootLink##*/}" && "''${sopsNixLink%/*}/" -ef "''${agebootLink%/*}/" ]]; then
        echo "ageboot: removing sops-nix's link $sopsNixLink (each secret is now a link inside it)"
        ${coreutils}/rm -- "$sopsNixLink" || exit 1
      fi
    '';
  prepare = pkgs.writeShellScript "sops-nix-user-prepare" prepareText;

  # sops-nix's validateSopsFiles checks of each sopsFile, naming each secret
  # by its attribute name, as sops-nix's home-manager module does.
  sopsFileProblems = shared.sopsFileProblems (attrName: _: attrName);

  # What sops-nix can do and ageboot cannot: refused, naming the option.
  unsupported =
    lib.optional (cfg.gnupg.home != null) "sops.gnupg.home"
    ++ lib.optional (cfg.gnupg.sshKeyPaths != [ ]) "sops.gnupg.sshKeyPaths"
    ++ lib.optional cfg.gnupg.qubes-split-gpg.enable "sops.gnupg.qubes-split-gpg.enable"
    ++ lib.optional (cfg.age.plugins != [ ]) "sops.age.plugins";

  percentPaths = lib.filter otherPercent (
    [
      cfg.defaultSecretsMountPoint
      cfg.defaultSymlinkPath
    ]
    ++ lib.mapAttrsToList (_: s: s.path) cfg.secrets
    ++ lib.mapAttrsToList (_: t: t.path) cfg.templates
  );
in
{
  options.sops = {
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Secrets to decrypt.";
    };
    templates = mkOption {
      type = types.attrsOf templateType;
      default = { };
      description = "Templates for secret files, rendered to ~/.config/sops-nix/secrets/rendered/<name>.";
    };
    placeholder = shared.placeholder ''
      The placeholder of each secret for {option}`sops.templates`: ageboot's
      (`ageboot placeholder NAME`), which it replaces at activation.
    '';
    # As in nix/sops.nix: nix/lib/sops-options.nix.
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
      description = "Default key used to look up all secrets. Ignored for binary, dotenv and ini; `\"\"` means the whole file.";
    };
    validateSopsFiles = mkOption {
      type = types.bool;
      default = true;
      description = "Check at evaluation that each sops file exists and is in the Nix store.";
    };
    defaultSymlinkPath = mkOption {
      type = types.str;
      default = "${config.xdg.configHome}/sops-nix/secrets";
      defaultText = literalExpression ''"''${config.xdg.configHome}/sops-nix/secrets"'';
      description = ''
        Where the secrets can be found by default: each secret's default path
        is `<defaultSymlinkPath>/<name>`. sops-nix makes this a symlink to the
        current generation; ageboot makes it a directory of one symlink per
        secret (the generation's link stays in $XDG_RUNTIME_DIR).
      '';
    };
    defaultSecretsMountPoint = mkOption {
      type = types.str;
      default = "%r/secrets.d";
      description = ''
        Where generations of decrypted secrets are stored: inside
        $XDG_RUNTIME_DIR (`%r`), the user's tmpfs. The link to the current
        generation is beside it, without the `.d`.
      '';
    };
    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 1;
      description = "Number of secrets generations to keep.";
    };

    age = {
      keyFile = shared.age.keyFile "/home/someuser/.age-key.txt";
      inherit (shared.age) plugins generateKey;
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = [ ];
        description = "Paths to ssh keys used as age identities (an ed25519 key also as its ssh-to-age X25519 key).";
      };
    };

    gnupg = {
      package = shared.gnupg.package pkgs.gnupg;
      home = shared.gnupg.home "/home/someuser/.gnupg";
      inherit (shared.gnupg) sshKeyPaths;
      qubes-split-gpg = {
        enable = lib.mkEnableOption "Qubes Split GPG: not supported by ageboot (an assertion says so when set)";
        domain = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "vault-gpg";
          description = "Accepted for compatibility; unused (no PGP).";
        };
      };
    };
  };

  config = lib.mkMerge [
    {
      # Placeholders for every secret, mkDefault as in sops-nix.
      sops.placeholder = lib.mapAttrs (_: s: lib.mkDefault (placeholderOf s)) cfg.secrets;
      # Set, these mean PGP keys or plugins were meant to open the files:
      # refused whether or not secrets are declared yet.
      assertions = [
        {
          assertion = unsupported == [ ];
          message = ''
            ${lib.concatStringsSep ", " unsupported}: not supported by ageboot (homeManagerModules.sops): it
            decrypts with age keys only (sops.age.keyFile, sops.age.sshKeyPaths), not PGP, KMS or age
            plugins. Add an age recipient to the sops files (ageboot recipient; sops updatekeys) and
            unset these options.
          '';
        }
      ];
    }

    (lib.mkIf (cfg.secrets != { }) {
      assertions = [
        {
          assertion = identityPaths != [ ];
          message = "No key source configured for sops: set sops.age.keyFile (an age key file, e.g. ~/.config/sops/age/keys.txt) or sops.age.sshKeyPaths (e.g. ~/.ssh/id_ed25519).";
        }
        {
          assertion = !cfg.validateSopsFiles || sopsFileProblems == [ ];
          message = "sops.validateSopsFiles:\n${lib.concatMapStringsSep "\n" (x: "- ${x}") sopsFileProblems}";
        }
        {
          assertion = cfg.age.generateKey -> cfg.age.keyFile != null;
          message = "sops.age.generateKey needs sops.age.keyFile (where the key is made).";
        }
        {
          # sops-nix's sops.package is sops-install-secrets; here it runs as ageboot.
          assertion = lib.getName cfg.package == "ageboot";
          message = "sops.package is ${lib.getName cfg.package}: with homeManagerModules.sops it must be the ageboot package (sops-nix's sops-install-secrets is not used). Remove the setting.";
        }
        {
          assertion = inRuntimeDir secretsMountPoint;
          message = "sops.defaultSecretsMountPoint = \"${cfg.defaultSecretsMountPoint}\": ageboot keeps the decrypted secrets inside $XDG_RUNTIME_DIR, the user's tmpfs, and nowhere else; use a path that starts with %r/ (the default is %r/secrets.d).";
        }
        {
          assertion = percentPaths == [ ];
          message = "${lib.concatStringsSep ", " percentPaths}: ageboot expands only a leading %r ($XDG_RUNTIME_DIR) in these paths; write the rest without %.";
        }
        {
          assertion = pkgs.stdenv.hostPlatform.isLinux;
          message = "ageboot's home-manager modules run on Linux only (they need $XDG_RUNTIME_DIR on tmpfs and a systemd user manager); on macOS use sops-nix's module (docs/home-manager.md).";
        }
      ];

      warnings =
        lib.optional (cfg.environment != { }) "sops.environment (${lib.concatStringsSep ", " (lib.attrNames cfg.environment)}) is not used: ageboot runs no sops binary and reads none of its environment variables.";

      xdg.configFile."ageboot/sops-nix-manifest.json".source = manifestFile;

      # At login (and at boot for a lingering user), and on `home-manager
      # switch`, under sops-nix's names (sops-nix.service, the entry
      # `sops-nix`), so that what is ordered after them keeps its order; as
      # nix/home-manager.nix does (nix/lib/user-unit.nix). Before each run:
      # the prepare script above.
      systemd.user.services.sops-nix = userUnit.service {
        description = "Decrypt your sops secrets into $XDG_RUNTIME_DIR (ageboot --user)";
        inherit activate;
        extraService.ExecStartPre = "${prepare}";
      };
      home.activation.sops-nix = userUnit.activation {
        unit = "sops-nix.service";
        inherit activate;
        prepare = {
          text = prepareText;
          failure = "ageboot: could not prepare for sops-nix's secrets (see above); nothing was changed";
        };
      };
    })
  ];
}
