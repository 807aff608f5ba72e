"""Import the iCOPE + UNIFESP CSV layout into our training manifest.

The public layout (``iCOPE+UNIFESP_data.csv`` of the "Pain Assessment in Newborns with AI" work)
has one row per still image::

    file_name,subject,frame,class,dataset,gender,NFCS,new_subject,new_file_name,face_coordinates,landmarks_coordinates
    Datasets\\Originais\\UNIFESP\\28_152652.bmp,28,,pain,UNIFESP,,4.0,S103,ID1156_UNIFESP_S103_pain.jpg,"[87, 31, 191, 156]","[[105, 98], ...]"

- ``file_name``: the image path as the data set's authors stored it (Windows separators are
  accepted); looked up under ``--images-root``, then by ``new_file_name`` there.
- ``subject`` / ``new_subject``: the infant (``new_subject`` is unique across both data sets and
  is used when present; otherwise ``<dataset>_<subject>``).
- ``class``: pain, nopain (rest), cry, air (stimulus), friction, sucrose, move, yawn ...
- ``NFCS``: the NFCS total where scored (UNIFESP), empty elsewhere (iCOPE).
- ``face_coordinates``: the infant's face box ``[x1, y1, x2, y2]`` in image pixels (``[]`` when
  none); ``landmarks_coordinates``: 5 keypoints (eyes, nose, mouth corners).

Labels: a data set whose every row has an NFCS total is scored on NFCS (``--nfcs-scale``, the
variant its authors used: ``nfcs10`` by default, ``nfcs8`` for the 8-item variant); any other
data set is scored pain / no pain from its class (``--pain-classes``, default ``pain``). The
class is kept in the ``class`` column for per-class results; the face box becomes the tracker's
target region (``face_x..face_h``), so a nurse's or parent's face in the picture is never measured;
the keypoints are checked to lie in the box and kept in a ``keypoints`` column (not used further).

    python -m training.import_icope iCOPE+UNIFESP_data.csv --images-root /data/pain --out manifest.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from auepa_monitor.core.errors import AuepaError

from .manifest import SCALE_DEFS

ICOPE_COLUMNS = ("file_name", "subject", "class", "dataset", "NFCS", "face_coordinates")
OUT_HEADER = ["subject", "dataset", "media", "time_s", "score", "scale", "face_x", "face_y", "face_w", "face_h",
              "class", "keypoints", "source_frame", "note"]


@dataclass
class ImportReport:
    rows: int = 0
    written: int = 0
    missing_images: list[str] = field(default_factory=list)
    without_box: int = 0
    keypoints_outside_box: list[int] = field(default_factory=list)
    scales: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{self.written}/{self.rows} rows written; scales: "
               + ", ".join(f"{d} -> {s}" for d, s in self.scales.items())]
        if self.missing_images:
            out.append(f"{len(self.missing_images)} image(s) not found, rows left out: "
                       + ", ".join(self.missing_images[:5]) + (" ..." if len(self.missing_images) > 5 else ""))
        if self.without_box:
            out.append(f"{self.without_box} row(s) without a face box: the tracker takes the largest face there")
        if self.keypoints_outside_box:
            out.append(f"keypoints outside the face box on CSV line(s) {self.keypoints_outside_box[:10]}")
        return out


def _parse_list(text: str) -> list:
    text = (text or "").strip()
    if not text:
        return []
    try:
        v = json.loads(text)
    except ValueError as e:
        raise ValueError(f"not a list: {text!r}") from e
    return v if isinstance(v, list) else []


def _find_image(name: str, new_name: str, roots: Sequence[Path]) -> Path | None:
    parts = PureWindowsPath(name).parts if "\\" in name else Path(name).parts
    for root in roots:
        # The full stored path, then shorter tails of it (the authors' root folders differ from ours).
        for i in range(len(parts)):
            p = root.joinpath(*parts[i:])
            if p.is_file():
                return p.resolve()
        if new_name and (root / new_name).is_file():
            return (root / new_name).resolve()
    return None


def import_icope(csv_path: str | Path, images_root: str | Path, out: str | Path, nfcs_scale: str = "nfcs10",
                 pain_classes: Sequence[str] = ("pain",), box_format: str = "xyxy") -> ImportReport:
    """Write our manifest (``out``) from an iCOPE + UNIFESP layout CSV; returns what was done.

    Media paths in the written manifest are relative to its folder when possible.
    """
    if nfcs_scale not in SCALE_DEFS or not nfcs_scale.startswith("nfcs"):
        raise AuepaError(f"--nfcs-scale {nfcs_scale!r}: expected one of "
                         + ", ".join(n for n in SCALE_DEFS if n.startswith("nfcs")))
    if box_format not in ("xyxy", "xywh"):
        raise AuepaError(f"box format {box_format!r}: expected xyxy or xywh")
    csv_path, out = Path(csv_path), Path(out)
    roots = [Path(images_root)]
    with csv_path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ICOPE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise AuepaError(f"{csv_path}: not the iCOPE + UNIFESP layout, columns missing: {', '.join(missing)}")
        src = [(i + 2, r) for i, r in enumerate(reader)]
    rep = ImportReport(rows=len(src))
    pains = {c.strip().lower() for c in pain_classes}
    # One scale per data set: NFCS where every row of the data set has a total, else pain / no pain by class.
    by_ds: dict[str, list[dict]] = {}
    for _, r in src:
        by_ds.setdefault(r["dataset"].strip(), []).append(r)
    scale_of = {d: (nfcs_scale if all((r.get("NFCS") or "").strip() for r in rs) else "binary")
                for d, rs in by_ds.items()}
    rep.scales = {d: scale_of[d] for d in by_ds}
    nfcs_hi = SCALE_DEFS[nfcs_scale].hi
    written = []
    for line, r in src:
        ds = r["dataset"].strip()
        media = _find_image(r["file_name"].strip(), (r.get("new_file_name") or "").strip(), roots)
        if media is None:
            rep.missing_images.append(r["file_name"].strip())
            continue
        cls = r["class"].strip()
        scale = scale_of[ds]
        if scale == "binary":
            score = "1" if cls.lower() in pains else "0"
        else:
            v = float(r["NFCS"])
            if not 0 <= v <= nfcs_hi:
                raise AuepaError(f"{csv_path} line {line}: NFCS {v:g} is outside {nfcs_scale}'s range 0-{nfcs_hi:g}; "
                                 "choose the right --nfcs-scale")
            score = f"{v:g}"
        subj = (r.get("new_subject") or "").strip() or f"{ds}_{r['subject'].strip()}"
        box = _parse_list(r.get("face_coordinates", ""))
        bx = ["", "", "", ""]
        if len(box) == 4:
            x0, y0, a, b = (float(v) for v in box)
            w, h = (a - x0, b - y0) if box_format == "xyxy" else (a, b)
            bx = [f"{max(x0, 0):g}", f"{max(y0, 0):g}", f"{w:g}", f"{h:g}"]
            kps = _parse_list(r.get("landmarks_coordinates", ""))
            if kps and not all(x0 - 1 <= p[0] <= x0 + w + 1 and y0 - 1 <= p[1] <= y0 + h + 1 for p in kps):
                rep.keypoints_outside_box.append(line)
        else:
            rep.without_box += 1
            kps = []
        try:
            rel = media.relative_to(out.resolve().parent)
            mpath = rel.as_posix()
        except ValueError:
            mpath = str(media)
        written.append([subj, ds.lower(), mpath, "", score, scale, *bx, cls,
                        ";".join(f"{p[0]:g} {p[1]:g}" for p in kps), (r.get("frame") or "").strip(),
                        f"imported from {csv_path.name} line {line}"])
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        f.write(f"# Imported from {csv_path.name} (iCOPE + UNIFESP layout) by training/import_icope.py.\n")
        f.write("# Scales: " + "; ".join(f"{d}: {s} ({SCALE_DEFS[s].note})" for d, s in rep.scales.items()) + "\n")
        w = csv.writer(f)
        w.writerow(OUT_HEADER)
        w.writerows(written)
    rep.written = len(written)
    return rep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.import_icope", description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", type=Path, help="the iCOPE + UNIFESP layout CSV")
    ap.add_argument("--images-root", required=True, type=Path, help="folder the CSV's file_name paths live under")
    ap.add_argument("--out", required=True, type=Path, help="manifest to write")
    ap.add_argument("--nfcs-scale", default="nfcs10", help="NFCS variant of the scored data sets (nfcs10, nfcs8, nfcs4)")
    ap.add_argument("--pain-classes", default="pain", help="comma-separated classes that count as pain (binary sets)")
    ap.add_argument("--box-format", choices=("xyxy", "xywh"), default="xyxy",
                    help="face_coordinates layout (the public file: x1, y1, x2, y2)")
    a = ap.parse_args(argv)
    try:
        rep = import_icope(a.csv, a.images_root, a.out, a.nfcs_scale, a.pain_classes.split(","), a.box_format)
    except (AuepaError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in rep.lines():
        print(line)
    print(f"manifest: {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
