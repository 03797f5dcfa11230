#!/bin/sh
# Runs inside the booted container (checker.service, test/system/nixos-switch.test.ts):
# records what boot left, then makes three configuration switches the way
# switch-to-configuration handles the units the NixOS module generates, and
# records after each which units ran and what the consumers read.
out=/results/results.txt
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
started() { systemctl show -p ExecMainStartTimestampMonotonic --value "$1"; }
# Every queued job done but this checker's own start (ageboot queues its try-restarts with
# --no-block, before its run ends), 20 s at most.
settle() {
  for _ in $(seq 1 100); do
    [ -z "$(systemctl list-jobs --no-legend | grep -v ' checker\.service ')" ] && return
    sleep 0.2
  done
  echo "settle=timeout"
}

# What switch-to-configuration (NixOS/nixpkgs pkgs/by-name/sw/switch-to-configuration-ng/src/src/main.rs)
# does with these units, in its order: an active unit whose file changed is skipped when its
# [Service] has X-RestartIfChanged=false, else stopped now and started at the end; the activation
# script runs (the module adds no snippet in systemd mode, so there is nothing to run, and nothing on
# /run/nixos/activation-restart-list); systemd reloads its units; sysinit-reactivation.target is
# restarted and waited for; the units stopped above, and every target that was active (unless it
# refuses a manual start), are started.
switch() {
  new=/etc/ageboot/configuration-$1
  stopped=""
  skipped=""
  targets=""
  for target in $(systemctl list-units --type=target --state=active --no-legend --plain | cut -d' ' -f1); do
    [ "$(systemctl show -p RefuseManualStart --value "$target")" = yes ] || targets="$targets $target"
  done
  for file in "$new"/*.service; do
    unit=$(basename "$file")
    if systemctl is-active -q "$unit" && ! cmp -s "$file" "/etc/systemd/system/$unit"; then
      if sed -n '/^\[Service\]/,/^\[/p' "$file" | grep -qx 'X-RestartIfChanged=false'; then
        skipped="$skipped $unit"
      else
        systemctl stop "$unit"
        stopped="$stopped $unit"
      fi
    fi
  done
  cp "$new"/*.service /etc/systemd/system/
  systemctl daemon-reload
  systemctl restart sysinit-reactivation.target
  echo "switch_$1_rc=$?"
  systemctl start $stopped $targets
  settle
  echo "switch_$1_skipped=${skipped# }"
  echo "switch_$1_stopped=${stopped# }"
  echo "switch_$1_generation=$(readlink /run/agenix)"
  echo "switch_$1_generations=$(ls /run/agenix.d | grep -E '^[0-9]+$' | sort -n | tr '\n' ' ')"
  echo "switch_$1_refresh=$(systemctl show -p Result --value ageboot-refresh.service) $(systemctl is-active ageboot-refresh.service)"
  echo "switch_$1_a_starts=$(lines /results/a.txt)"
  echo "switch_$1_b_starts=$(lines /results/b.txt)"
  echo "switch_$1_a_read=$(tail -n 1 /results/a.txt)"
  echo "switch_$1_b_read=$(tail -n 1 /results/b.txt)"
}

{
  echo "boot_ageboot=$(systemctl is-active ageboot.service)"
  echo "boot_names=$(systemctl show -p Names --value ageboot.service)"
  echo "boot_alias_active=$(systemctl is-active agenix-install-secrets.service)"
  echo "boot_refresh_started=$(started ageboot-refresh.service)"
  echo "boot_generation=$(readlink /run/agenix)"
  echo "boot_a_starts=$(lines /results/a.txt)"
  echo "boot_b_starts=$(lines /results/b.txt)"
  echo "boot_a_read=$(tail -n 1 /results/a.txt)"
  echo "boot_b_read=$(tail -n 1 /results/b.txt)"
  boot_started=$(started ageboot.service)

  switch 2 # b rotated
  switch 3 # the same configuration again
  switch 4 # a rotated

  if [ "$(started ageboot.service)" = "$boot_started" ]; then echo "ageboot_restarted=no"; else echo "ageboot_restarted=yes"; fi
  echo "ageboot_active=$(systemctl is-active ageboot.service)"
  journalctl -b -u ageboot.service -u ageboot-refresh.service --no-pager -o cat > /results/journal.txt 2>&1
  echo "done=yes"
} > "$out" 2>&1
systemctl poweroff --no-block
