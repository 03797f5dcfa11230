# The declarations of sops-nix's options (Mic92/sops-nix) that the NixOS
# module (nix/sops.nix) and the home-manager module (nix/home-manager-sops.nix)
# make word for word the same, and the validateSopsFiles checks both run: one
# place, so the two cannot drift apart. What
# differs between them (paths in descriptions, defaults, examples, which
# options exist at all) stays in each module, which lists every option it
# declares and takes the shared ones from here by name:
#   shared = import ./lib/sops-options.nix { inherit lib pkgs cfg; };
#   options.sops = { inherit (shared) defaultSopsFile ...; ... };
# `cfg` is the module's config.sops (some defaults read it); `pkgs` the
# module's pkgs.
{
  lib,
  pkgs,
  cfg,
}:
let
  inherit (lib) mkOption types literalExpression;

  # sops.age.keyFile's type: a key in the Nix store would be readable by all.
  pathNotInStore = lib.mkOptionType {
    name = "pathNotInStore";
    description = "path not in the Nix store";
    descriptionClass = "noun";
    check = x: !lib.path.hasStorePathPrefix (/. + x);
    merge = lib.mergeEqualOption;
  };
in
{
  # sops.placeholder: what it says differs (which secrets have one).
  placeholder =
    description:
    mkOption {
      type = types.attrsOf (
        types.mkOptionType {
          name = "coercibleToString";
          description = "value that can be coerced to string";
          check = lib.strings.isConvertibleWithToString;
          merge = lib.mergeEqualOption;
        }
      );
      default = { };
      visible = false;
      inherit description;
    };

  defaultSopsFile = mkOption {
    type = types.path;
    description = "Default sops file used for all secrets.";
  };
  defaultSopsFormat = mkOption {
    type = types.str;
    default = "yaml";
    description = "Default sops format used for all secrets.";
  };
  log = mkOption {
    type = types.listOf (
      types.enum [
        "keyImport"
        "secretChanges"
      ]
    );
    default = [
      "keyImport"
      "secretChanges"
    ];
    description = "Accepted for compatibility; ageboot always reports what changed and never logs key material.";
  };
  environment = mkOption {
    type = types.attrsOf (types.either types.str types.path);
    default = { };
    description = "Accepted for compatibility; ageboot reads none of sops' environment variables (a warning says so when set).";
  };
  package = mkOption {
    type = types.package;
    default = pkgs.callPackage ../package.nix { };
    # As the modules (in nix/) name it.
    defaultText = literalExpression "pkgs.callPackage ./package.nix { }";
    description = "The ageboot package (sops-nix: sops-install-secrets).";
  };

  age = {
    # The example is a system path or a home one.
    keyFile =
      example:
      mkOption {
        type = types.nullOr pathNotInStore;
        default = null;
        inherit example;
        description = "Path to an age key file used for decryption.";
      };
    plugins = mkOption {
      type = types.listOf types.package;
      default = [ ];
      description = "age plugins: not supported by ageboot (an assertion says so when set).";
    };
    generateKey = mkOption {
      type = types.bool;
      default = false;
      description = "Generate the age key at {option}`sops.age.keyFile` (with age-keygen) when it is missing.";
    };
  };

  gnupg = {
    # The example is root's home or a user's.
    home =
      example:
      mkOption {
        type = types.nullOr types.str;
        default = null;
        inherit example;
        description = "GnuPG keys: not supported by ageboot (an assertion says so when set).";
      };
    sshKeyPaths = mkOption {
      type = types.listOf types.path;
      # sops-nix (NixOS): the RSA host keys, imported as PGP keys. ageboot has
      # no PGP, so none by default; set, it is an assertion.
      default = [ ];
      description = "SSH keys imported as PGP keys: not supported by ageboot (an assertion says so when set).";
    };
    # The default is the module's own expression for pkgs.gnupg.
    package =
      default:
      mkOption {
        type = types.package;
        inherit default;
        defaultText = literalExpression "pkgs.gnupg";
        description = "Accepted for compatibility; unused (no PGP).";
      };
  };

  # What sops.validateSopsFiles checks at evaluation in each secret's
  # sopsFile (sops-nix: manifest-for.nix, and its home-manager module): it
  # exists and is in the Nix store. `nameOf attrName secret` is the name the
  # messages give the secret (sops-nix's NixOS module gives secret.name, its
  # home-manager module the attribute name).
  sopsFileProblems =
    nameOf:
    lib.concatLists (
      lib.mapAttrsToList (
        attrName: s:
        lib.optional (!builtins.pathExists s.sopsFile)
          "Cannot find path '${s.sopsFile}' set in sops.secrets.${lib.strings.escapeNixIdentifier (nameOf attrName s)}.sopsFile"
        ++ lib.optional (
          !builtins.isPath s.sopsFile && !(builtins.isString s.sopsFile && lib.hasPrefix builtins.storeDir s.sopsFile)
        ) "'${s.sopsFile}' is not in the Nix store. Either add it to the Nix store or set sops.validateSopsFiles to false"
      ) cfg.secrets
    );

  # A secret's options (sops.secrets.<name>) that read the same; `name` is the
  # attribute name.
  secret = {
    key =
      name:
      mkOption {
        type = types.str;
        default = if cfg.defaultSopsKey != null then cfg.defaultSopsKey else name;
        description = ''
          Key used to look up the value in the sops file: a `/`-separated
          path; `""` means the whole file. Ignored for binary, dotenv and ini.
        '';
      };
    # The formats in the order each sops-nix module lists them (the type's
    # description shows it).
    format =
      formats:
      mkOption {
        type = types.enum formats;
        default = cfg.defaultSopsFormat;
        description = "File format of the sops file. Binary files are written as they are.";
      };
  };

  # A template's options (sops.templates.<name>) that read the same; `config`
  # is the template's.
  template = {
    content = mkOption {
      type = types.lines;
      default = "";
      description = ''
        Content of the file: text with `config.sops.placeholder.<secret>`,
        each replaced by the secret's value at activation. It holds
        placeholders, not secrets, and goes into the Nix store.
      '';
    };
  };
}
