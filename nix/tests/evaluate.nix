# A check that needs no KVM and builds nothing of NixOS: it evaluates a NixOS
# system that imports one of this flake's modules, up to the derivation of
# its system.build.toplevel (which is where NixOS checks assertions and
# evaluates every activation snippet and unit), and records that derivation's
# path. `nix flake check` runs it on any Linux machine of the system.
#
# What it does not show: that the system boots (checks.vm and vm-systemd do,
# with KVM), or that the package builds (packages.*, built by flake check too).
{
  self,
  nixpkgs,
  pkgs,
}:
let
  evaluate =
    module:
    (nixpkgs.lib.nixosSystem {
      modules = [
        module
        {
          nixpkgs.hostPlatform = pkgs.stdenv.hostPlatform.system;
          boot.loader.grub.enable = false;
          fileSystems."/" = {
            device = "none";
            fsType = "tmpfs";
          };
          system.stateVersion = "25.11";
        }
      ];
    }).config.system.build.toplevel.drvPath;

  agenix =
    systemdActivation:
    { ... }:
    {
      imports = [ self.nixosModules.default ];
      services.userborn.enable = systemdActivation;
      age.useSystemdActivation = systemdActivation;
      age.identityPaths = [ "/persist/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets.db-password.file = ../../demo/secrets/db-password.age;
      age.secrets.api-token = {
        file = ../../demo/secrets/api-token.age;
        mode = "0440";
      };
    };

  systems = {
    activation-scripts = evaluate (agenix false);
    systemd-activation = evaluate (agenix true);
    sops = evaluate {
      imports = [ self.nixosModules.sops ];
    };
  };
in
pkgs.runCommand "ageboot-modules-evaluate"
  {
    # Paths only: the systems are evaluated, not built.
    toplevels = builtins.toJSON (builtins.mapAttrs (_: builtins.unsafeDiscardStringContext) systems);
    passAsFile = [ "toplevels" ];
  }
  ''
    cp "$toplevelsPath" "$out"
  ''
