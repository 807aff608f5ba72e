"""Write ``examples/children_manifest.csv``: the research pipeline's example on the children videos.

    python examples/make_children_manifest.py [--children DIR] [--out FILE]

The media are the 28 webcam videos of ``../shared/data/children`` (two toddlers, each with a
parent in view; see that folder's README). **The scores this writes are STAND-IN LABELS, NOT PAIN
LABELS**: the children laugh and play; nobody is in pain. They follow a fixed pattern so that every
FLACC level, the folds and every stage have something to run on. The ``class`` column is real: the
joke the parent plays in that video (its file name), so the per-class tables group by stimulus.

Rows (data set ``children_flacc``, FLACC 0-10, trained and cross-validated on): per video, each of
the four people (the two toddlers and their parents; subject ids ``<family>_child`` and
``<family>_parent``) gets two rows, the video's first and second half as ``frame_start`` /
``frame_end`` ranges, with a face box that is the person's side of the frame (child: viewer's
right, x 320-639; parent: left, x 0-319), so the tracker takes that person's face and never the
other one's. The data sets tested on without fine-tuning are the OpenFace sample stills of
``examples/sample_manifest.csv`` (NFCS and binary stand-ins), copied from it.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
DEFAULT_CHILDREN = HERE.parent.parent / "shared" / "data" / "children"
#: Stand-in FLACC scores, cycled so that each person gets every level (0-2 no pain ... 9 strong).
STANDIN_CYCLE = (0, 3, 6, 9)
#: (subject suffix, face box x, y, w, h): each person's side of a 640x480 frame.
PEOPLE = (("child", (320, 0, 320, 480)), ("parent", (0, 0, 320, 480)))
HEADER = ["subject", "dataset", "media", "time_s", "score", "scale", "label_note", "class",
          "face_x", "face_y", "face_w", "face_h", "frame_start", "frame_end"]
NOTE = "STAND-IN NOT PAIN"


def _frames(video: Path) -> int:
    cap = cv2.VideoCapture(str(video))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


def children_rows(children: Path, relative_to: Path) -> list[list[str]]:
    """Manifest rows for every children video (sorted by name), paths relative to ``relative_to``."""
    videos = sorted(children.glob("*.mp4"))
    if not videos:
        raise FileNotFoundError(f"no .mp4 videos in {children}")
    rows: list[list[str]] = []
    for v_i, video in enumerate(videos):
        family, joke = video.name.split(".")[0], video.stem.split(".")[-1]
        n = _frames(video)
        if n < 4:
            raise ValueError(f"{video.name}: only {n} frames")
        media = Path(os.path.relpath(video.resolve(), relative_to.resolve()))
        for p_i, (who, box) in enumerate(PEOPLE):
            for seg, (a, b) in enumerate(((1, n // 2), (n // 2 + 1, n))):
                score = STANDIN_CYCLE[(2 * v_i + seg + p_i) % len(STANDIN_CYCLE)]
                rows.append([f"{family}_{who}", "children_flacc", media.as_posix(), "", str(score), "flacc", NOTE,
                             joke, *map(str, box), str(a), str(b)])
    return rows


def test_set_rows(sample: Path, relative_to: Path) -> list[list[str]]:
    """The non-FLACC data sets of the sample manifest (tested on without fine-tuning), paths relative to
    ``relative_to``."""
    lines = [ln for ln in sample.read_text().splitlines() if ln and not ln.startswith("#")]
    out = []
    for r in csv.DictReader(lines):
        if r["dataset"] != "demo_flacc":
            media = os.path.relpath((sample.parent / r["media"]).resolve(), relative_to.resolve())
            out.append([r["subject"], r["dataset"], Path(media).as_posix(), r["time_s"], r["score"], r["scale"],
                        r["label_note"], r["class"], "", "", "", "", "", ""])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--children", type=Path, default=DEFAULT_CHILDREN)
    ap.add_argument("--out", type=Path, default=HERE / "children_manifest.csv")
    a = ap.parse_args(argv)
    rows = children_rows(a.children, a.out.resolve().parent) + test_set_rows(HERE / "sample_manifest.csv", a.out.resolve().parent)
    with open(a.out, "w", newline="") as f:
        f.write("# The research pipeline's example on the children videos (examples/make_children_manifest.py wrote it).\n"
                "# THE SCORES ARE STAND-IN LABELS, NOT PAIN LABELS: the toddlers laugh and play, nobody is in pain;\n"
                "# scores follow a fixed cycle so every stage has something to run on. 'class' is the real joke shown.\n"
                "# Paths are relative to this file's folder.\n")
        csv.writer(f).writerows([HEADER, *rows])
    print(f"{a.out}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
