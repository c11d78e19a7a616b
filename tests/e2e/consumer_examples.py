"""The consumer examples of docs/examples as runnable commands, installed from their lock files.

Node.js packages come from `package-lock.json` through `npm ci`, once per lock file, into a cache
directory outside the tree (`ENTRASYNC_EXAMPLES_CACHE`, default ~/.cache/entrasync/examples).
A missing toolchain is a failure with the command that installs it, never a skip.

The Go example runs only when `ENTRASYNC_TEST_GO=1` (it needs Go and nats.go, which `make test`
does not install): it is built in GOPATH mode against Debian's nats.go, offline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
GO_HINT = "sudo apt-get install -y golang-go golang-github-nats-io-go-nats-dev"
DEBIAN_GOPATH = Path("/usr/share/gocode")
INSTALL_HINT = (
    "install Node.js 18+ with npm (Debian: `sudo apt-get install nodejs npm`), "
    "or run scripts/bootstrap.sh, which does"
)


def cache_root() -> Path:
    default = Path.home() / ".cache" / "entrasync" / "examples"
    return Path(os.environ.get("ENTRASYNC_EXAMPLES_CACHE", default))


def python_command() -> list[str]:
    """The Python example, run by this interpreter (its nats-py is the locked one)."""
    return [sys.executable, str(EXAMPLES / "python" / "consume.py")]


def node_command() -> list[str]:
    """The Node.js example next to the packages `npm ci` installed from its lock file."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise AssertionError(f"node/npm not found on PATH: {INSTALL_HINT}")
    source = EXAMPLES / "node"
    lock = (source / "package-lock.json").read_bytes()
    home = cache_root() / f"node-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (home / "node_modules" / ".package-lock.json").exists():
        _npm_ci(npm, source, home)
    # ESM resolves packages from the script's own folder: the script runs from the cache, as is.
    shutil.copyfile(source / "consume.mjs", home / "consume.mjs")
    return [node, str(home / "consume.mjs")]


def _npm_ci(npm: str, source: Path, home: Path) -> None:
    """Install into a fresh folder and move it into place, so an interrupted install (or a
    parallel one) never leaves a half-filled cache behind."""
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="npm-", dir=home.parent))
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(source / name, staging / name)
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"]
    done = subprocess.run(command, cwd=staging, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise AssertionError(
            f"`npm ci` for docs/examples/node failed ({done.returncode}):\n"
            f"{done.stderr[-2000:]}\nIs the npm registry reachable? {INSTALL_HINT}"
        )
    try:
        staging.rename(home)
    except OSError:  # another run installed it first
        shutil.rmtree(staging, ignore_errors=True)


def go_requested() -> bool:
    return os.environ.get("ENTRASYNC_TEST_GO") == "1"


def go_command() -> list[str]:
    """The Go example, built once per version of its source, with Debian's nats.go."""
    go = shutil.which("go")
    if go is None or not (DEBIAN_GOPATH / "src/github.com/nats-io/nats.go").is_dir():
        raise AssertionError(f"ENTRASYNC_TEST_GO=1 needs Go and nats.go: {GO_HINT}")
    source = (EXAMPLES / "go" / "main.go").read_bytes()
    binary = cache_root() / f"go-{hashlib.sha256(source).hexdigest()[:16]}" / "consume"
    if not binary.exists():
        _go_build(go, source, binary)
    return [str(binary)]


def _go_build(go: str, source: bytes, binary: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="go-") as work:
        package = Path(work) / "src" / "consume"
        package.mkdir(parents=True)
        (package / "main.go").write_bytes(source)
        env = {
            **os.environ,
            "GO111MODULE": "off",  # Debian ships Go libraries as GOPATH sources, not modules
            "GOPATH": f"{work}:{DEBIAN_GOPATH}",
            "GOCACHE": str(Path(work) / "cache"),
        }
        out = Path(work) / "consume"
        done = subprocess.run(
            [go, "build", "-o", str(out), "."],
            cwd=package,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise AssertionError(f"building docs/examples/go failed:\n{done.stderr[-3000:]}")
        binary.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(out, binary)
