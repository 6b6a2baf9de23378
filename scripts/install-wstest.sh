#!/usr/bin/env bash
# Installs the Autobahn testsuite's `wstest` (autobahntestsuite on PyPI) into a cache
# directory and prints the path of a wrapper that runs it.
#
# wstest runs on Python 2.7 only, which Debian 12 no longer ships. We take CPython 2.7
# from Debian 11 packages, unpacked (never installed) into the cache with private apt
# state, bootstrap pip for it, then install wstest with every dependency pinned by
# autobahn/constraints-py27.txt. Nothing outside the cache is modified. Idempotent.
#
#   scripts/install-wstest.sh            # -> prints .../bin/wstest
#   WSTEST_CACHE=/some/dir scripts/install-wstest.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${WSTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ws-server-wstest}"
VERSION=25.10.1
PY="$CACHE/python2.7"
WRAPPER="$CACHE/bin/wstest"
STAMP="$CACHE/.installed-$VERSION"
LOG="$CACHE/install.log"

say() { echo "install-wstest: $*" >&2; }
fail() { say "$*"; [ -f "$LOG" ] && tail -n 20 "$LOG" >&2; exit 1; }

mkdir -p "$CACHE/bin"
exec 9>"$CACHE/.lock"
flock 9

if [ -f "$STAMP" ] && "$WRAPPER" --help >/dev/null 2>&1; then
  echo "$WRAPPER"
  exit 0
fi

for tool in apt-get dpkg gcc python3; do
  command -v "$tool" >/dev/null || fail "$tool is required"
done

say "installing Python 2.7 and wstest $VERSION into $CACHE (once, about a minute)"
rm -rf "$PY" "$CACHE/apt" "$CACHE/wheels" "$STAMP"
: > "$LOG"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)"
libdir="$PY/usr/lib/$multiarch"

# Debian 11 packages through a private apt configuration: the system's is untouched.
apt_dir="$CACHE/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs" "$PY"
: > "$apt_dir/status"
keyring=/usr/share/keyrings/debian-archive-bullseye-stable.gpg
[ -f "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || fail "no Debian archive keyring (apt-get install debian-archive-keyring)"
# The machine's own Debian mirror (not a commented-out or security line).
mirror="${DEBIAN_MIRROR:-$( { grep -rhsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ || true; } \
  | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"
echo "deb [signed-by=$keyring] $mirror bullseye main" > "$apt_dir/sources.list"
apt_opts=(-q -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
  -o Dir::State::Lists="$apt_dir/lists" -o Dir::State::status="$apt_dir/status"
  -o Dir::Cache::Archives="$apt_dir/archives" -o APT::Sandbox::User="$(id -un)")
apt-get "${apt_opts[@]}" update >>"$LOG" 2>&1 || fail "apt-get update for bullseye failed"
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download python2.7 python2.7-minimal \
  libpython2.7-minimal libpython2.7-stdlib libpython2.7 python2.7-dev libpython2.7-dev \
  libssl1.1 libffi7) >>"$LOG" 2>&1 || fail "downloading the python2.7 packages failed"
for deb in "$apt_dir"/debs/*.deb; do dpkg -x "$deb" "$PY"; done
rm -rf "$apt_dir"

cat > "$CACHE/bin/python2" <<WRAP
#!/bin/sh
export PYTHONHOME="$PY/usr" PYTHONNOUSERSITE=1 LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
unset PYTHONPATH PYTHONSTARTUP VIRTUAL_ENV
exec "$PY/usr/bin/python2.7" "\$@"
WRAP
chmod +x "$CACHE/bin/python2"
"$CACHE/bin/python2" -c 'import ssl, zlib, ctypes' >>"$LOG" 2>&1 || fail "the unpacked python2.7 does not start"

# pip for 2.7: the last releases that support it, fetched by the host's pip.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_PYTHON_VERSION_WARNING=1
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 2.7 --implementation cp \
  --abi none --platform any -d "$CACHE/wheels" pip==20.3.4 setuptools==44.1.1 wheel==0.37.1 >>"$LOG" 2>&1 \
  || fail "fetching pip for python 2.7 failed"
env PYTHONPATH="$(ls "$CACHE"/wheels/pip-*.whl)" PYTHONHOME="$PY/usr" LD_LIBRARY_PATH="$libdir" \
  "$PY/usr/bin/python2.7" -m pip install -q --no-warn-script-location --no-index \
  --find-links "$CACHE/wheels" pip==20.3.4 setuptools==44.1.1 wheel==0.37.1 >>"$LOG" 2>&1 \
  || fail "bootstrapping pip for python 2.7 failed"
# wsaccel compiles against the unpacked headers.
CFLAGS="-I$PY/usr/include -I$PY/usr/include/python2.7" LDFLAGS="-L$libdir" \
  "$CACHE/bin/python2" -m pip install -q --no-warn-script-location \
  -c "$ROOT/autobahn/constraints-py27.txt" "autobahntestsuite==$VERSION" >>"$LOG" 2>&1 \
  || fail "pip install autobahntestsuite failed"
rm -rf "$CACHE/wheels"

cat > "$WRAPPER" <<WRAP
#!/bin/sh
exec "$CACHE/bin/python2" -c 'import sys; from autobahntestsuite.wstest import run; sys.argv[0] = "wstest"; sys.exit(run())' "\$@"
WRAP
chmod +x "$WRAPPER"
"$WRAPPER" --help >/dev/null 2>&1 || fail "wstest does not start"
touch "$STAMP"
say "installed"
echo "$WRAPPER"
