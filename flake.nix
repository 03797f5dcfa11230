{
  description = "ageboot: decrypt a host's age secrets at boot onto memory-backed storage (agenix-compatible)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      # Linux only (systemd, ramfs); both are evaluated by the repository's tests
      # (test/privileged/nix-package.test.ts) with nixpkgs' lib.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      # pkgs.ageboot, built against the nixpkgs it is applied to (as agenix's overlay does).
      overlays.default = final: _prev: { ageboot = final.callPackage ./nix/package.nix { }; };

      packages = forAllSystems (pkgs: rec {
        ageboot = pkgs.callPackage ./nix/package.nix { };
        default = ageboot;
      });

      # `nix fmt`: nixpkgs' nixfmt, the RFC 166 style (formerly nixfmt-rfc-style).
      formatter = forAllSystems (pkgs: pkgs.nixfmt);

      nixosModules.default = ./nix/module.nix;
      nixosModules.ageboot = ./nix/module.nix;
      # A drop-in for sops-nix (sops.*): change the import, nothing else (docs/sops.md).
      nixosModules.sops = ./nix/sops.nix;
      # A user's own secrets, without root (docs/home-manager.md). agenix and sops-nix name theirs
      # homeManagerModules (age, sops), so a drop-in keeps that name; `nix flake check` warns that it
      # does not know it. homeModules, the name it does know, holds the same modules.
      homeManagerModules.default = ./nix/home-manager.nix;
      homeManagerModules.ageboot = ./nix/home-manager.nix;
      # A drop-in for sops-nix's home-manager module (sops.*), as nixosModules.sops is for its NixOS one.
      homeManagerModules.sops = ./nix/home-manager-sops.nix;
      homeModules = self.homeManagerModules;

      # Pure functions (builtins only): the manifest, and the activation snippets.
      lib.manifest = import ./nix/lib/manifest.nix;
      lib.activation = import ./nix/lib/activation.nix;

      checks = forAllSystems (pkgs: {
        # No KVM needed: the modules evaluated into NixOS systems (nix/tests/evaluate.nix).
        modules-evaluate = import ./nix/tests/evaluate.nix { inherit self nixpkgs pkgs; };
        vm = pkgs.testers.runNixOSTest (import ./nix/tests/vm.nix { inherit self; });
        vm-systemd = pkgs.testers.runNixOSTest (
          import ./nix/tests/vm.nix {
            inherit self;
            systemdActivation = true;
          }
        );
      });
    };
}
