# How both home-manager modules (nix/home-manager.nix, agenix's age.*, and
# nix/home-manager-sops.nix, sops-nix's sops.*) run `ageboot activate --user`:
# the user unit at login and the home.activation entry on `home-manager
# switch`. Each module keeps its own unit and entry names (agenix's or
# sops-nix's, so that what is ordered after them keeps its order) and passes
# them here with its `activate` command line.
# `lib` is home-manager's (lib.hm.dag).
{ lib }:
{
  # The user unit (systemd.user.services.<unit>): oneshot, hardened. Its
  # ExecStart names the manifest, so a switch that changes the secrets changes
  # the unit, and home-manager's sd-switch restarts it. `extraService` adds to
  # [Service] (the sops module's ExecStartPre).
  service =
    {
      description,
      activate,
      extraService ? { },
    }:
    {
      Unit.Description = description;
      Service = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = activate;
        NotifyAccess = "all";
        # Exit 7: every secret installed, only a custom path failed (named in the
        # journal); as systemd/ageboot-user.service, not a failure of the unit.
        SuccessExitStatus = 7;
        UMask = "0077";
        LimitCORE = 0;
        NoNewPrivileges = true;
        LockPersonality = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
      }
      // extraService;
      Install.WantedBy = [ "default.target" ];
    };

  # The home.activation entry, after writeBoundary: the new secrets at once,
  # whether or not the user manager runs. Without $XDG_RUNTIME_DIR it leaves
  # them to `unit` at the next login. A failed secret is reported and does
  # not stop the switch: the previous generation stays in place. `prepare`,
  # when given, is { text; failure; }: a script run first in a subshell
  # (ending it on failure), and what is said when it fails (nothing is
  # activated then).
  activation =
    {
      unit,
      activate,
      prepare ? null,
    }:
    let
      # Indented by `prefix`, line by line (the text has no empty line).
      indent = prefix: text: lib.concatMapStrings (line: "${prefix}${line}\n") (lib.splitString "\n" (lib.removeSuffix "\n" text));
      install = ''
        # Exit 7: every secret installed, only custom paths not (named above).
        ${activate} || if [[ $? -eq 7 ]]; then
          echo "ageboot: every secret is installed, but some custom paths are not (see above)" >&2
        else
          echo "ageboot: some secrets were not installed (see above); the rest are in place" >&2
        fi
      '';
      # prepare.text goes in as it is (it is not indented with the rest).
      prepareThenInstall =
        "  if ( ${prepare.text} ); then\n"
        + indent "    " install
        + "  else\n"
        + "    echo \"${prepare.failure}\" >&2\n"
        + "  fi\n";
    in
    lib.hm.dag.entryAfter [ "writeBoundary" ] (
      ''
        if [[ -z "''${XDG_RUNTIME_DIR:-}" ]]; then
          echo "ageboot: XDG_RUNTIME_DIR is not set; ${unit} decrypts your secrets at your next login" >&2
        elif [[ -v DRY_RUN ]]; then
          ${activate} --dry-run || true
        else
      ''
      + (if prepare == null then indent "  " install else prepareThenInstall)
      + ''
        fi
      ''
    );
}
