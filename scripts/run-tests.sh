#!/usr/bin/env bash
# Run the vitest suite as root inside a private mount namespace: privileged
# tests mount ramfs/tmpfs and bind-mount a private /etc/passwd there, and none
# of it is visible to (or can disturb) the rest of the host.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "run-tests: the suite needs root (real mounts and chown); run it as root, e.g. sudo npm test" >&2
  exit 1
fi
AGEBOOT_OUTER_MOUNT_NS=$(readlink /proc/self/ns/mnt)
export AGEBOOT_OUTER_MOUNT_NS
# Property tests run their full count here (npm run test:unit alone runs a tenth, to stay fast).
export AGEBOOT_PROPERTY_RUNS_SCALE=${AGEBOOT_PROPERTY_RUNS_SCALE:-1}
# Every temporary file of the run goes under one directory (TMPDIR), removed
# when the run ends, whether it passed, failed or was interrupted: nothing is
# left in /tmp. Mounts the tests make under it live in the private namespace
# and go with it. 0755, as /tmp is to them: test users reach (and status walks,
# by descriptor) the test hosts below it.
AGEBOOT_TEST_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ageboot-test-run.XXXXXX")
chmod 0755 "$AGEBOOT_TEST_RUN_DIR"
export AGEBOOT_TEST_RUN_DIR TMPDIR=$AGEBOOT_TEST_RUN_DIR
trap 'rm -rf -- "$AGEBOOT_TEST_RUN_DIR"' EXIT
status=0
unshare --mount --propagation private -- npx vitest run "$@" || status=$?
exit "$status"
