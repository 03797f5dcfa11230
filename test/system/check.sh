#!/bin/sh
# Runs inside the booted container (checker.service): records what the system
# looks like into /results/results.txt, exercises restart and failure, powers off.
out=/results/results.txt
hash() { sha256sum < "$1" | cut -d' ' -f1; }
{
  echo "boot_ageboot_result=$(systemctl show -p Result --value ageboot.service)"
  echo "boot_ageboot_active=$(systemctl is-active ageboot.service)"
  echo "boot_status_text=$(systemctl show -p StatusText --value ageboot.service)"
  echo "ageboot_exit=$(systemctl show -p ExecMainExitTimestampMonotonic --value ageboot.service)"
  echo "consumer_start=$(systemctl show -p ExecMainStartTimestampMonotonic --value consumer.service)"
  for name in app-token shared-config nested/db; do
    echo "stat_$name=$(stat -L -c '%U:%G:%a' "/run/agenix/$name")"
  done
  echo "stat_mountpoint=$(stat -c '%U:%G:%a' /run/agenix.d)"
  echo "consumer=$(head -n 1 /results/consumer.txt)"
  echo "consumer_runs_at_boot=$(wc -l < /results/consumer.txt)"
  echo "stat_rendered=$(stat -L -c '%U:%G:%a' /run/agenix/rendered/app.conf)"
  echo "templated_at_boot=$(head -n 1 /results/templated.txt)"
  echo "mount_pid1=$(awk '$5 == "/run/agenix.d" { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1); exit } }' /proc/1/mountinfo)"

  cp /etc/ageboot/manifest-rotated.json /etc/ageboot/manifest.json
  systemctl restart ageboot.service; echo "restart_rc=$?"
  echo "generation_after_restart=$(readlink /run/agenix)"
  echo "app_token_after_restart=$(hash /run/agenix/app-token)"
  # Restarts and reloads are queued (--no-block): wait for them, 20 s at most.
  for _ in $(seq 1 100); do
    [ "$(wc -l < /results/consumer.txt)" -ge 2 ] && [ "$(wc -l < /results/templated.txt)" -ge 2 ] && grep -q reload /results/reloader.txt && break
    sleep 0.2
  done
  echo "consumer_runs_after_restart=$(wc -l < /results/consumer.txt)"
  echo "consumer_read_after_restart=$(tail -n 1 /results/consumer.txt)"
  echo "reloader_log=$(tr '\n' ',' < /results/reloader.txt)"
  echo "untouched_starts=$(grep -c start /results/untouched.txt)"
  echo "templated_runs_after_restart=$(wc -l < /results/templated.txt)"
  echo "templated_after_restart=$(tail -n 1 /results/templated.txt)"

  cp /etc/ageboot/manifest-broken.json /etc/ageboot/manifest.json
  systemctl restart ageboot.service; echo "broken_rc=$?"
  echo "broken_state=$(systemctl is-failed ageboot.service)"
  echo "generation_after_broken=$(readlink /run/agenix)"
  echo "app_token_after_broken=$(hash /run/agenix/app-token)"
  sleep 1 # a restart it wrongly queued would have run by now
  echo "consumer_runs_after_broken=$(wc -l < /results/consumer.txt)"
  journalctl -b -u ageboot.service --no-pager -o cat > /results/journal.txt 2>&1
  echo "done=yes"
} > "$out" 2>&1
systemctl poweroff --no-block
