#!/usr/bin/env bash
# The test suite, with everything it needs: installs Debian's chromium and chromium-driver
# (for the browser chat test) and redis-server (the backplane tests start their own
# instances) when missing, and Python `websockets` (the compression
# interop client) into a virtual environment; then runs every test of the workspace.
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test.sh: installing ${need[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi

# Python `websockets`, pinned, in a venv of its own (nothing system-wide).
WEBSOCKETS_VERSION=17.4
venv="${WS_SERVER_PY_VENV:-$HOME/.cache/ws-server-py}"
if ! "$venv/bin/python" -c "import websockets, sys; sys.exit(websockets.__version__ != '$WEBSOCKETS_VERSION')" 2>/dev/null; then
  echo "test.sh: installing websockets $WEBSOCKETS_VERSION into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "websockets==$WEBSOCKETS_VERSION"
fi
export WS_SERVER_PYTHON="$venv/bin/python"

cargo test --workspace --all-features "$@"
