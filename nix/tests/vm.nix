# NixOS VM test (needs Nix with KVM): nix flake check, or
#   nix build .#checks.x86_64-linux.vm
# Boots with the host key under /persist (impermanence style), checks owner and
# mode, a consumer service, and a switch that rotates a secret.
{ self }:
{
  name = "ageboot";

  nodes.machine =
    { lib, pkgs, ... }:
    {
      imports = [ self.nixosModules.default ];

      # The throwaway test key reaches /persist before ageboot runs, as a
      # persistent volume would hold it. (Never put a real key in the store.)
      systemd.services.seed-persist = {
        wantedBy = [ "sysinit.target" ];
        before = [ "ageboot.service" ];
        after = [ "local-fs.target" ];
        unitConfig.DefaultDependencies = false;
        serviceConfig.Type = "oneshot";
        script = ''
          install -D -m 0600 ${./fixtures/TEST-ONLY-ssh_host_ed25519_key} /persist/etc/ssh/ssh_host_ed25519_key
        '';
      };

      age.identityPaths = [ "/persist/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets.app-token = {
        file = ./fixtures/app-token.age;
        owner = "app";
        mode = "0400";
      };
      age.secrets.linked = {
        file = ./fixtures/app-token.age;
        path = "/etc/app/token";
      };

      users.users.app = {
        isSystemUser = true;
        group = "app";
      };
      users.groups.app = { };

      # A consumer with no ordering of its own.
      systemd.services.consumer = {
        wantedBy = [ "multi-user.target" ];
        serviceConfig = {
          User = "app";
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${pkgs.coreutils}/bin/sha256sum /run/agenix/app-token";
        };
      };

      specialisation.rotated.configuration = {
        age.secrets.app-token.file = lib.mkForce ./fixtures/app-token-2.age;
      };
    };

  testScript = ''
    machine.wait_for_unit("multi-user.target")
    machine.succeed("systemctl is-active ageboot.service")
    machine.succeed("systemctl is-active consumer.service")
    assert machine.succeed("stat -c '%U:%a' /run/agenix/app-token").strip() == "app:400"
    assert machine.succeed("findmnt -n -o FSTYPE /run/agenix.d").strip() == "ramfs"
    assert machine.succeed("readlink /etc/app/token").strip() == "/run/agenix/linked"
    before = machine.succeed("readlink /run/agenix").strip()

    machine.succeed("/run/current-system/specialisation/rotated/bin/switch-to-configuration test")
    after = machine.succeed("readlink /run/agenix").strip()
    assert before != after, f"switch did not make a new generation ({before})"
    # sha256 of the rotated test value ("vm-test-token-2").
    machine.succeed(
      "sha256sum /run/agenix/app-token | grep -q 081af64e18f2b5a1526eb87d4581905366db6585c48a6bbff70dd31f8642c8cc"
    )
  '';
}
