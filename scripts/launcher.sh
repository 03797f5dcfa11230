#!/bin/sh
# ageboot's launcher (dist/ageboot, copied here by scripts/build.mjs; the Nix
# package and other installs configure a copy with scripts/install-package.sh).
#
# It runs node on start.cjs beside it, which loads the CLI's bundle (cli.cjs)
# with its V8 code cache (cli.cache: the bundle already compiled, its
# activation path included), made by the build; a boot waits on start-up
# (docs/performance.md). Another Node.js refuses the cache and compiles the
# bundle instead: a slower start, nothing else.
#
# Nothing in the caller's environment chooses what runs: root may run this
# under `sudo -E` or with env_keep, with a user's variables (issue 22, item 4;
# docs/security.md). So the node binary and the package directory come from
# the lines below, set at install, never from a variable; and node starts with
# only the variables ageboot reads (the list below), so that no NODE_OPTIONS,
# NODE_PATH, NODE_COMPILE_CACHE, NODE_REDIRECT_WARNINGS, OPENSSL_CONF, LD_*,
# ... reaches it or the tools it runs.
#
# Functions a shell imported from the environment (bash as /bin/sh imports
# BASH_FUNC_*) would shadow the commands below. Here, at the top, bash started
# as sh is in POSIX mode, where special built-ins such as `unset` are found
# before any function; it leaves that mode when POSIXLY_CORRECT is unset (the
# loop below may do so, and SHELLOPTS=allexport exports it), and from then on
# a function named `exec` or `unset` would run instead. So every name this
# script runs, special built-ins included, loses its function first, and
# allexport (from an imported SHELLOPTS) is turned off.
unset -f unset exec export set eval return shift trap readonly break continue exit times . : \
  ulimit echo readlink printf test "[" keep_variable command builtin local type cd 2>/dev/null || :
set +a
# Every exported variable but these is unset. An allow-list, not a list of
# node's variables to remove: node, V8, OpenSSL, ICU, glibc and the tools
# ageboot runs (flock, mount, getent, systemctl) read many, and new ones come
# with new releases. Kept: what ageboot's code reads (src/: PATH to find its
# tools, NOTIFY_SOCKET and JOURNAL_STREAM from systemd, NIXOS_ACTION from
# switch-to-configuration, HOME and XDG_* for `activate --user`, AGEBOOT_*:
# the shipped bundle reads AGEBOOT_LOG_FORMAT, AGEBOOT_LOG_LEVEL and
# AGEBOOT_MAIN_PID only, its crash-test hooks being compiled out), and
# GLIBC_TUNABLES (set below unless given; glibc already read the caller's to
# start this shell). `export -p` is a builtin (nothing is run to list them); a value
# spanning lines can only add names to unset, never hide one, since every
# variable starts a line of its own. Only names a shell can hold are unset:
# the ones node and the C libraries read all are. First of all, so that no
# variable of the caller's is exported under a name this script uses (the
# install lines below included).
keep_variable() {
  case $1 in
    PATH | HOME | NOTIFY_SOCKET | JOURNAL_STREAM | NIXOS_ACTION | XDG_RUNTIME_DIR | XDG_CONFIG_HOME | AGEBOOT_* | GLIBC_TUNABLES) return 0 ;;
    *) return 1 ;;
  esac
}
exported=$(export -p)
set -f
old_ifs=$IFS
IFS='
'
for line in $exported; do
  case $line in
    "export "*) name=${line#export } ;;
    "declare -x "*) name=${line#declare -x } ;;
    *) continue ;;
  esac
  name=${name%%=*}
  case $name in
    "" | [0-9]* | *[!A-Za-z0-9_]*) continue ;;
  esac
  keep_variable "$name" || unset -v "$name"
done
IFS=$old_ifs
set +f
unset -v exported line name old_ifs
# Set by scripts/install-package.sh (one line each, replaced whole). Empty as
# built: node is the first `node` on PATH, and the package directory is this
# file's own (through a symlink, the link's target).
installed_node=
installed_dir=
installed_path=
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
if [ -n "$installed_path" ]; then
  PATH=$installed_path${PATH:+:$PATH}
  export PATH
fi
# The package's own directory, never the current one: run through a symlink
# (npm's bin link), the link is resolved, and a launcher whose directory cannot
# be known does not run (a start.cjs in the working directory would run as root).
if [ -n "$installed_dir" ]; then
  dir=$installed_dir
else
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
fi
# `--`: the script's path is never read as one of node's options, whatever $0 was.
exec "${installed_node:-node}" -- "$dir/start.cjs" "$@"
