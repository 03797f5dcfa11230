#!/bin/sh
# Runs inside the booted container (checker.service), for the lingering user
# alice whose user manager logind started at boot, with nobody logged in:
# waits for her ageboot-user.service to finish, records what her secrets look
# like into /results/results.txt, rotates a secret with `systemctl --user
# restart`, and powers off.
out=/results/results.txt
uid=$(id -u alice)
as_alice() { setpriv --reuid=alice --regid=alice --init-groups env XDG_RUNTIME_DIR=/run/user/$uid "$@"; }
user_show() { as_alice systemctl --user show -p "$1" --value "$2"; }
hash() { sha256sum < "$1" | cut -d' ' -f1; }
{
  # Bounded: a user manager that never comes up fails the test, not the boot.
  for _ in $(seq 1 120); do
    state=$(user_show ActiveState ageboot-user.service 2>/dev/null)
    [ "$state" = active ] || [ "$state" = failed ] && [ -e /results/user-consumer.txt ] && break
    sleep 0.5
  done
  echo "linger=$(loginctl show-user alice -p Linger --value)"
  echo "sessions=$(loginctl show-user alice -p Sessions --value)"
  echo "user_manager=$(systemctl is-active user@$uid.service)"
  echo "unit_result=$(user_show Result ageboot-user.service)"
  echo "unit_active=$(user_show ActiveState ageboot-user.service)"
  echo "status_text=$(user_show StatusText ageboot-user.service)"
  echo "runtime_fs=$(stat -f -c %T /run/user/$uid)"
  echo "runtime_dir=$(stat -c '%U:%a' /run/user/$uid)"
  echo "secrets_dir=$(readlink /run/user/$uid/agenix)"
  echo "stat_token=$(stat -L -c '%U:%G:%a' /run/user/$uid/agenix/token)"
  echo "custom_path=$(readlink /home/alice/.config/app/key)"
  echo "consumer=$(cat /results/user-consumer.txt)"
  echo "consumer_start=$(user_show ExecMainStartTimestampMonotonic consumer.service)"
  echo "ageboot_exit=$(user_show ExecMainExitTimestampMonotonic ageboot-user.service)"
  echo "other_user_reads=$(setpriv --reuid=bob --regid=bob --init-groups cat /run/user/$uid/agenix/token >/dev/null 2>&1 && echo yes || echo no)"

  cp /home/alice/.config/ageboot/manifest-rotated.json /home/alice/.config/ageboot/manifest.json
  as_alice systemctl --user restart ageboot-user.service; echo "restart_rc=$?"
  echo "secrets_dir_after_restart=$(readlink /run/user/$uid/agenix)"
  echo "token_after_restart=$(hash /run/user/$uid/agenix/token)"
  # --user-unit would also match _UID=0 (the caller); the field alone matches her unit.
  journalctl -b _SYSTEMD_USER_UNIT=ageboot-user.service --no-pager -o cat > /results/journal.txt 2>&1
  echo "done=yes"
} > "$out" 2>&1
systemctl poweroff --no-block
