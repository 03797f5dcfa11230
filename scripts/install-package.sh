#!/usr/bin/env bash
# Install the built dist/ (in the working directory) as a package that needs
# nothing outside the paths it is given: the Nix package's installPhase runs
# this (nix/package.nix), and so does the NixOS-shaped system test
# (test/system/nixos-shaped.test.ts), which installs into a store-like root.
#
#   install-package.sh [--destdir ROOT] OUT NODE SHELL [PATH_ENTRIES]
#
# OUT           where the package lives when it runs: OUT/lib/ageboot (dist/),
#               OUT/bin/ageboot (a symlink to the launcher).
# NODE          the node executable the launcher runs, by absolute path (the
#               one that built dist/: its code cache is that V8's).
# SHELL         the launcher's interpreter, by absolute path (the Nix package:
#               a store bash). Not /bin/sh: NixOS creates /bin/sh in its `binsh`
#               activation snippet, after agenixInstall (issue 21, item 1).
#               bash gets -p: it then reads no BASH_ENV or ENV and imports no
#               functions from the caller's environment.
# PATH_ENTRIES  ':'-separated directories put first on the launcher's PATH
#               (flock, mount, getent, systemctl).
# --destdir     write the files under ROOT (ROOT/OUT/...) while naming OUT in
#               them, as `make install DESTDIR=` does.
#
# The launcher (scripts/launcher.sh) has one line for each value, replaced
# here: nothing it runs comes from a variable of the caller's environment.
set -euo pipefail
destdir=
if [ "${1-}" = --destdir ]; then
  destdir=$2
  shift 2
fi
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
  echo "usage: install-package.sh [--destdir ROOT] OUT NODE SHELL [PATH_ENTRIES]" >&2
  exit 2
fi
out=$1 node=$2 shell=$3 path_entries=${4-}
for value in "$out" "$node" "$shell"; do
  case $value in
    /*) ;;
    *) echo "install-package.sh: '$value' is not an absolute path" >&2; exit 2 ;;
  esac
done
# Written between single quotes in the launcher, and the shell on its #! line.
for value in "$out" "$node" "$shell" "$path_entries"; do
  case $value in
    *"'"* | *$'\n'*) echo "install-package.sh: a quote or a newline in '$value'" >&2; exit 2 ;;
  esac
done
case $shell in
  *[[:space:]]*) echo "install-package.sh: a space in the shell's path '$shell' (it goes on the #! line)" >&2; exit 2 ;;
esac
[ -f dist/ageboot ] && [ -f dist/start.cjs ] || { echo "install-package.sh: no dist/ here; run npm run build first" >&2; exit 2; }

# The package's files are root's 0755/0644 whatever the caller's umask, and
# its two directories are new: an existing one (or a symlink planted in its
# place in a directory someone else can write) is refused, never written through.
umask 022
mkdir -p "$destdir$out"
mkdir "$destdir$out/lib" "$destdir$out/bin"
lib=$destdir$out/lib/ageboot
mkdir "$lib"
cp -r dist/. "$lib/"
interpreter=$shell
case ${shell##*/} in bash) interpreter="$shell -p" ;; esac

# The launcher, its four install lines replaced; each must be found exactly once.
launcher=$lib/ageboot
configured=$lib/.ageboot.configured
found=0
{
  IFS= read -r first
  case $first in
    '#!/bin/sh') printf '#!%s\n' "$interpreter"; found=$((found + 1)) ;;
    *) printf '%s\n' "$first" ;;
  esac
  while IFS= read -r line; do
    case $line in
      installed_node=) printf "installed_node='%s'\n" "$node"; found=$((found + 1)) ;;
      installed_dir=) printf "installed_dir='%s'\n" "$out/lib/ageboot"; found=$((found + 1)) ;;
      installed_path=) printf "installed_path='%s'\n" "$path_entries"; found=$((found + 1)) ;;
      *) printf '%s\n' "$line" ;;
    esac
  done
} < dist/ageboot > "$configured"
if [ "$found" != 4 ]; then
  echo "install-package.sh: dist/ageboot does not have the #!/bin/sh line and the three installed_* lines (found $found of 4)" >&2
  rm -f "$configured"
  exit 1
fi
chmod 0555 "$configured"
mv -f "$configured" "$launcher"
ln -sfn ../lib/ageboot/ageboot "$destdir$out/bin/ageboot"
