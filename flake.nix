{
  description = "ageboot: decrypt a host's age secrets at boot onto memory-backed storage (agenix-compatible)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        ageboot = pkgs.callPackage ./nix/package.nix { };
        default = ageboot;
      });

      nixosModules.default = ./nix/module.nix;
      nixosModules.ageboot = ./nix/module.nix;
      # A drop-in for sops-nix (sops.*): change the import, nothing else (docs/sops.md).
      nixosModules.sops = ./nix/sops.nix;
      # A user's own secrets, without root (docs/home-manager.md); agenix names its own homeManagerModules.age.
      homeManagerModules.default = ./nix/home-manager.nix;
      homeManagerModules.ageboot = ./nix/home-manager.nix;
      # A drop-in for sops-nix's home-manager module (sops.*), as nixosModules.sops is for its NixOS one.
      homeManagerModules.sops = ./nix/home-manager-sops.nix;

      # Pure functions (builtins only): the manifest, and the activation snippets.
      lib.manifest = import ./nix/lib/manifest.nix;
      lib.activation = import ./nix/lib/activation.nix;

      checks = forAllSystems (pkgs: {
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
