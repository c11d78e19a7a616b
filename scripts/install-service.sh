#!/usr/bin/env sh
# Install one service and exactly its locked dependencies into a virtual environment.
# The container images run this very script (see Dockerfile), and the test suite runs it for
# every service (tests/integration/deploy/test_images.py), so CI proves the image install steps.
#   scripts/install-service.sh <config|scheduler|syncer|history|console|receiver> [venv dir]
set -eu
service="$1"
export UV_PROJECT_ENVIRONMENT="${2:-/app/.venv}"
uv sync --frozen --no-dev --no-editable --package "entrasync-$service"
