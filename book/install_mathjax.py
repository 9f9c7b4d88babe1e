"""Install MathJax 3 into the book (book/vendor/mathjax/, git-ignored), once.

The book serves MathJax itself so that equations render with no network: Sphinx copies
book/vendor/ into the HTML output (html_extra_path) and every page loads
mathjax/tex-mml-chtml.js relatively (mathjax_path in _config.yml).

The package comes from the npm registry (`npm pack`, so npm's own registry settings apply),
pinned by version and checked against the registry's sha512 integrity. Offline, point
MATHJAX_TARBALL at a copy of mathjax-<version>.tgz. Does nothing when already installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "3.2.2"
INTEGRITY = "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
TARGET = Path(__file__).resolve().parent / "vendor" / "mathjax"
STAMP = TARGET / ".installed"
# What tex-mml-chtml.js loads: itself, the components it may load on demand (TeX extensions,
# the menu, accessibility, speech) and the CHTML fonts. The other combined bundles are left out.
KEEP = ["tex-mml-chtml.js", "input", "output", "ui", "a11y", "sre", "adaptors"]


def installed() -> bool:
    return STAMP.is_file() and STAMP.read_text().strip() == f"{VERSION} {INTEGRITY}"


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _fetch(tmp: Path) -> Path:
    local = os.environ.get("MATHJAX_TARBALL")
    if local:
        return Path(local)
    npm = shutil.which("npm")
    if npm is None:
        sys.exit(
            "install_mathjax: npm is needed to fetch MathJax from the npm registry "
            "(Debian: apt-get install npm), or set MATHJAX_TARBALL to a mathjax-"
            f"{VERSION}.tgz"
        )
    run = subprocess.run(
        [npm, "pack", f"mathjax@{VERSION}", "--json", "--pack-destination", str(tmp)],
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    if run.returncode != 0:
        sys.exit(f"install_mathjax: `npm pack mathjax@{VERSION}` failed:\n{run.stderr[-2000:]}")
    name = json.loads(run.stdout)[0]["filename"]
    return tmp / name


def install() -> None:
    if installed():
        print(f"MathJax {VERSION} already installed in {TARGET}")
        return
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        tarball = _fetch(tmp)
        got = _integrity(tarball)
        if got != INTEGRITY:
            sys.exit(f"install_mathjax: {tarball.name} has integrity {got}, expected {INTEGRITY}")
        with tarfile.open(tarball) as tar:
            try:
                tar.extractall(tmp / "x", filter="data")
            except TypeError:  # Python < 3.10.12 / 3.11.4: no filters (the archive is verified)
                tar.extractall(tmp / "x")
        es5 = tmp / "x" / "package" / "es5"
        staging = TARGET.with_name(TARGET.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in KEEP:
            src = es5 / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, staging / name)
        shutil.copy2(tmp / "x" / "package" / "LICENSE", staging / "LICENSE")
        (staging / ".installed").write_text(f"{VERSION} {INTEGRITY}\n")
        shutil.rmtree(TARGET, ignore_errors=True)
        staging.rename(TARGET)
    print(f"MathJax {VERSION} installed in {TARGET}")


if __name__ == "__main__":
    install()
