"""Peak memory of refusing a zip bomb and of accepting the largest photo, each in a fresh process.

    python -m benchmarks.hostile_memory [--members 200] [--member-mb 5] [--megapixels 40]

A zip of `members` files of `member-mb` MB of zeros each (about 1 MB on disk for 200 × 5 MB) goes
to `editor.ad.batch.read_products`, as `ad --batch --product bomb.zip` and the app's batch do;
a `megapixels` photo (just under the limit) goes to `editor.images.load_image`. Each case runs in
its own Python process and prints the process's peak RSS before and after (ru_maxrss), so one
case's memory never hides another's. `--before-commit` runs the zip case with the round-2 reader
too (read from git), for the comparison.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CASE = r"""
import resource, sys, time
sys.path.insert(0, {root!r})
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
kind, path = sys.argv[1], sys.argv[2]
if kind == "zip-before":
    import importlib.util, subprocess
    source = subprocess.run(["git", "show", sys.argv[3] + ":editor/ad/batch.py"], cwd={root!r},
                            capture_output=True, text=True, check=True).stdout
    import types
    module = types.ModuleType("batch_before")
    sys.modules["batch_before"] = module  # its dataclasses look their module up while being made
    exec(compile(source, "batch_before.py", "exec"), module.__dict__)
    read = module.read_products
elif kind == "zip":
    from editor.ad.batch import read_products as read
else:
    from editor.images import load_image as read
import numpy  # imported by both readers: counted in the baseline
before = peak_mb()
start = time.perf_counter()
try:
    result = read([path]) if kind.startswith("zip") else read(path)
    outcome = "accepted"
except Exception as exc:
    outcome = "refused: " + str(exc).splitlines()[0][:100]
seconds = time.perf_counter() - start
print(f"{{kind}}: {{outcome}}; peak RSS {{before:.0f}} MB before, {{peak_mb():.0f}} MB after "
      f"(+{{peak_mb() - before:.0f}} MB) in {{seconds:.2f}} s")
"""


def _run(kind: str, path: Path, *extra: str) -> None:
    code = _CASE.format(root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code, kind, str(path), *extra], capture_output=True, text=True,
                          cwd=ROOT)
    print((done.stdout or done.stderr).strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--member-mb", type=int, default=5)
    parser.add_argument("--megapixels", type=float, default=39.9)
    parser.add_argument("--before-commit", default=None, help="also run the round-2 zip reader of this commit")
    args = parser.parse_args(argv)
    import numpy as np
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.zip"
        zeros = bytes(args.member_mb << 20)
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
            for i in range(args.members):
                archive.writestr(f"p{i:03d}.png", zeros)
        print(f"zip bomb: {args.members} × {args.member_mb} MB of zeros, {bomb.stat().st_size / 1e6:.1f} MB on disk")
        _run("zip", bomb)
        if args.before_commit:
            _run("zip-before", bomb, args.before_commit)
        side = int((args.megapixels * 1e6) ** 0.5)
        photo = Path(tmp) / "photo.jpg"
        rng = np.random.default_rng(0)
        tile = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        Image.fromarray(np.tile(tile, (side // 256 + 1, side // 256 + 1, 1))[:side, :side]).save(photo, quality=90)
        print(f"largest photo: {side}×{side} ({side * side / 1e6:.1f} MP) JPEG, {photo.stat().st_size / 1e6:.1f} MB")
        _run("photo", photo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
