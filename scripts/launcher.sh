#!/bin/sh
# ageboot's launcher (dist/ageboot, copied here by scripts/build.mjs).
#
# It runs node on start.cjs beside it, which loads the CLI's bundle (cli.cjs)
# with its V8 code cache (cli.cache: the bundle already compiled, its
# activation path included), made by the build; a boot waits on start-up
# (docs/performance.md). Another Node.js refuses the cache and compiles the
# bundle instead: a slower start, nothing else.
#
# AGEBOOT_NODE names the node binary (default: node on PATH).
#
# Under systemd this process is the unit's main process, and node replaces it
# (exec), keeping its process id. AGEBOOT_MAIN_PID tells node so
# (src/notify.ts): sd_notify messages carry MAINPID=.
AGEBOOT_MAIN_PID=$$
export AGEBOOT_MAIN_PID
# No core dumps: node holds the host keys and plaintext in memory, and a core
# file would put them on disk (issue 12, item 5). RLIMIT_CORE 0, soft and hard
# so that nothing below can raise it, stops the kernel writing a core file. A
# core_pattern that pipes to a handler (systemd-coredump, apport) is run whatever
# the limit (the handler is only told it), so coredump_filter 0 also leaves it no
# memory mapping to receive. Both are inherited by node. Lowering a limit cannot
# fail; if it does, nothing runs.
ulimit -c 0 || { echo "ageboot: error: cannot turn core dumps off (ulimit -c 0); not running" >&2; exit 5; }
{ echo 0 > /proc/self/coredump_filter; } 2>/dev/null || :
# glibc's malloc gives memory back to the system as soon as more than 128 KiB
# is free at the top of its heap, and takes it again page by page: a large
# secret frees a few MiB of decrypted chunks at every scavenge and allocates
# them again, and on a VM each page fault costs tens of microseconds. Keeping
# up to 4 MiB took a 256 MiB secret from 45,000 page faults to 9,000 and
# from 2.3 s to 0.9 s of processor time (docs/performance.md). Only if unset:
# an administrator's tunables win. Other C libraries ignore it.
: "${GLIBC_TUNABLES=glibc.malloc.trim_threshold=4194304}"
export GLIBC_TUNABLES
# The package's own directory, never the current one: run through a symlink
# (npm's bin link), the link is resolved, and a launcher whose directory cannot
# be known does not run (a start.cjs in the working directory would run as root).
self=$0
if [ -L "$self" ]; then
  self=$(readlink -f -- "$self") || self=
fi
case $self in
  */*) dir=${self%/*} ;;
  *)
    echo "ageboot: error: cannot tell where the launcher is (\$0 is '$0'); run it by its path" >&2
    exit 5
    ;;
esac
exec "${AGEBOOT_NODE:-node}" "$dir/start.cjs" "$@"
