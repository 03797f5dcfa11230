#!/bin/sh
# ageboot's launcher (dist/ageboot, copied here by scripts/build.mjs).
#
# It starts Node.js from the V8 start-up snapshot built beside it
# (ageboot.blob: the bundle already loaded and its activation path compiled),
# which takes about a third off every run's start-up; a boot waits on that
# (docs/performance.md). A snapshot only loads into the Node.js version that
# built it, on a CPU with the features of the machine that built it (V8 checks
# both): otherwise node exits with status 14 before it runs a line of ours, and
# the plain bundle (cli.js) runs instead, so an upgraded Node.js or a package
# built on another machine (a Nix builder, a binary cache) costs start-up time,
# never the secrets. That is a normal state, not a fault: it is said only at
# debug level (--log-level debug, or AGEBOOT_LOG_LEVEL=debug).
# ageboot's own exit statuses are 0 to 5.
# A damaged blob makes node crash while loading it (SIGSEGV, SIGTRAP, ...): the
# bundle runs then too. Running again after a crash is safe, since activation
# is crash-consistent; a run stopped by SIGTERM or SIGKILL is never repeated.
#
# AGEBOOT_NODE names the node binary (default: node on PATH).
#
# Under systemd this shell is the unit's main process. AGEBOOT_MAIN_PID tells
# node so (src/notify.ts): sd_notify messages carry MAINPID=, and naming node,
# which is not systemd's child, would leave systemd waiting for an exit it
# cannot see.
AGEBOOT_MAIN_PID=$$
export AGEBOOT_MAIN_PID
# No core dumps, for every command and for the second run below: node holds the
# host keys and plaintext in memory, and a core file would put them on disk
# (issue 12, item 5). RLIMIT_CORE 0, soft and hard so that nothing below can raise
# it, stops the kernel writing a core file. A core_pattern that pipes to a handler
# (systemd-coredump, apport) is run whatever the limit (the handler is only told
# it), so coredump_filter 0 also leaves it no memory mapping to receive. Both are
# inherited by node. Lowering a limit cannot fail; if it does, nothing runs.
ulimit -c 0 || { echo "ageboot: error: cannot turn core dumps off (ulimit -c 0); not running" >&2; exit 5; }
{ echo 0 > /proc/self/coredump_filter; } 2>/dev/null || :
self=$0
[ -L "$self" ] && self=$(readlink -f -- "$self")
case $self in */*) dir=${self%/*} ;; *) dir=. ;; esac
node=${AGEBOOT_NODE:-node}
if [ -f "$dir/ageboot.blob" ]; then
  # Not exec: after status 14 or a crash the bundle must still run. Under systemd, stopping
  # the unit signals the whole control group, node included.
  "$node" --snapshot-blob "$dir/ageboot.blob" -- "$@"
  status=$?
  case $status in
    14)
      debug=${AGEBOOT_LOG_LEVEL:-}
      for arg in "$@"; do
        case $previous/$arg in --log-level/debug | */--log-level=debug) debug=debug ;; esac
        previous=$arg
      done
      [ "$debug" = debug ] && echo "ageboot: debug: $dir/ageboot.blob was built by another Node.js; running without it (a snapshot loads only into the Node.js, and onto the CPU features, that built it: a slower start, nothing else)" >&2
      ;;
    132 | 133 | 134 | 135 | 139)
      echo "ageboot: warning: $dir/ageboot.blob could not be loaded (node died of signal $((status - 128))); running without it (slower start). Rebuild it: npm run build" >&2
      ;;
    *) exit "$status" ;;
  esac
fi
exec "$node" "$dir/cli.js" "$@"
