"""Reading OpenFace 2.2 CSV output (FeatureExtraction and FaceLandmarkImg). No Qt.

FeatureExtraction writes one row per frame with ``frame`` (1-based), ``face_id``,
``timestamp`` (s), ``confidence`` (0-1), ``success`` (0/1), optionally ``pose_Tx..Rz``
(mm, radians), ``x_0..x_67``/``y_0..y_67`` (2D landmarks, frame pixels) and ``AUxx_r``
(intensity 0-5) / ``AUxx_c`` (presence 0/1). FaceLandmarkImg writes one row per face found
in a still with ``face`` and ``confidence`` instead. Headers may carry leading spaces
(", " separators); a file cut off mid-write ends in an incomplete line, which is dropped
and reported as ``truncated``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AuepaError
from .private_files import open_private

_AU_R = re.compile(r"^AU(\d\d)_r$")
N_LANDMARKS = 68


class OpenFaceCsvError(AuepaError):
    """An OpenFace CSV cannot be read (not OpenFace output, or damaged beyond the last line)."""


@dataclass(frozen=True)
class OpenFaceTable:
    """Parsed OpenFace output, one entry per row (arrays of length N, read-only).

    Attributes:
        path: the file read.
        frames: (N,) int, OpenFace's 1-based ``frame`` column (``face`` + 1 for FaceLandmarkImg).
        face_ids: (N,) int, ``face_id`` (0 when absent).
        timestamps: (N,) float seconds (NaN when absent).
        confidence: (N,) float 0-1 (OpenFace's tracking confidence; FaceLandmarkImg's may exceed 1).
        success: (N,) bool; True when absent from the file (FaceLandmarkImg lists found faces only).
        aus: AU number -> (N,) float intensity 0-5 (the ``AUxx_r`` columns).
        landmarks: (N, 68, 2) float frame pixels, or None without ``-2Dfp``.
        pose: (N, 3) float radians (pose_Rx, pose_Ry, pose_Rz), or None without ``-pose``.
        truncated: the last line was incomplete and was dropped.
    """

    path: Path
    frames: np.ndarray
    face_ids: np.ndarray
    timestamps: np.ndarray
    confidence: np.ndarray
    success: np.ndarray
    aus: dict[int, np.ndarray]
    landmarks: np.ndarray | None
    pose: np.ndarray | None
    truncated: bool = False
    _index: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def row_of(self, frame: int) -> int | None:
        """Row index of OpenFace's ``frame`` number (first face_id when several), or None."""
        if not self._index:
            idx: dict[int, int] = {}
            for i, f in enumerate(self.frames.tolist()):
                idx.setdefault(int(f), i)
            object.__setattr__(self, "_index", idx)
        return self._index.get(int(frame))

    def au_row(self, i: int) -> dict[int, float]:
        """AU number -> intensity 0-5 of row ``i`` (OpenFace's AUs only)."""
        return {au: float(v[i]) for au, v in self.aus.items()}


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def read_openface_csv(path: str | Path) -> OpenFaceTable:
    """Parse an OpenFace CSV file into an :class:`OpenFaceTable`.

    Raises :class:`OpenFaceCsvError` for an empty file, a header without OpenFace's columns,
    a damaged line before the last one, or a cell that is not a number.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise OpenFaceCsvError(f"{path}: cannot read OpenFace output ({e.strerror or e})") from e
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise OpenFaceCsvError(f"{path}: the OpenFace CSV is empty")
    header = [h.strip() for h in lines[0].split(",")]
    col = {h: i for i, h in enumerate(header)}
    if "frame" not in col and "face" not in col:
        raise OpenFaceCsvError(f"{path}: not an OpenFace CSV (no 'frame' or 'face' column in the header)")
    ncol = len(header)
    rows: list[list[str]] = []
    truncated = False
    body = lines[1:]
    for k, line in enumerate(body):
        cells = [c.strip() for c in line.split(",")]
        last = k == len(body) - 1
        if len(cells) != ncol or any(c == "" for c in cells):
            if last:  # the writer was stopped mid-line
                truncated = True
                break
            raise OpenFaceCsvError(f"{path}: line {k + 2} has {len(cells)} cells, the header has {ncol}")
        rows.append(cells)
    if not truncated and body and not text.endswith(("\n", "\r")):
        # A last line without its newline may have lost digits of its last cell: do not trust it.
        rows.pop()
        truncated = True
    try:
        data = np.array(rows, dtype=np.float64).reshape(len(rows), ncol)
    except ValueError as e:
        raise OpenFaceCsvError(f"{path}: a cell is not a number ({e})") from e
    n = data.shape[0]

    def column(name: str, default: float) -> np.ndarray:
        return data[:, col[name]].copy() if name in col else np.full(n, default)

    if "frame" in col:
        frames = column("frame", 0).astype(np.int64)
    else:  # FaceLandmarkImg: one row per face; number them 1.. like frames
        frames = column("face", 0).astype(np.int64) + 1
    aus = {}
    for h, i in col.items():
        m = _AU_R.match(h)
        if m:
            aus[int(m.group(1))] = _ro(data[:, i].copy())
    landmarks = None
    if all(f"x_{j}" in col and f"y_{j}" in col for j in range(N_LANDMARKS)):
        xs = data[:, [col[f"x_{j}"] for j in range(N_LANDMARKS)]]
        ys = data[:, [col[f"y_{j}"] for j in range(N_LANDMARKS)]]
        landmarks = _ro(np.stack([xs, ys], axis=-1))
    pose = None
    if all(c in col for c in ("pose_Rx", "pose_Ry", "pose_Rz")):
        pose = _ro(data[:, [col["pose_Rx"], col["pose_Ry"], col["pose_Rz"]]].copy())
    success = column("success", 1.0) > 0.5
    return OpenFaceTable(
        path=path, frames=_ro(frames), face_ids=_ro(column("face_id", 0).astype(np.int64)),
        timestamps=_ro(column("timestamp", np.nan)), confidence=_ro(column("confidence", np.nan)),
        success=_ro(success), aus=aus, landmarks=landmarks, pose=pose, truncated=truncated,
    )


def save_table(table: OpenFaceTable, path: str | Path) -> None:
    """Store a parsed table as ``.npz`` (loads in milliseconds, where parsing a long CSV takes seconds)."""
    arrays = {"frames": table.frames, "face_ids": table.face_ids, "timestamps": table.timestamps,
              "confidence": table.confidence, "success": table.success,
              "truncated": np.array(table.truncated), "source_csv": np.array(str(table.path))}
    for au, v in table.aus.items():
        arrays[f"au_{au}"] = v
    if table.landmarks is not None:
        arrays["landmarks"] = table.landmarks
    if table.pose is not None:
        arrays["pose"] = table.pose
    with open_private(path, "wb") as fh:  # owner-only (0600)
        np.savez(fh, **arrays)


def load_table(path: str | Path) -> OpenFaceTable:
    """Read a table stored by :func:`save_table` (``path`` of the table is the original CSV)."""
    with np.load(path, allow_pickle=False) as z:
        get = {k: z[k] for k in z.files}
    aus = {int(k[3:]): _ro(v) for k, v in get.items() if k.startswith("au_")}
    return OpenFaceTable(
        path=Path(str(get["source_csv"])), frames=_ro(get["frames"]), face_ids=_ro(get["face_ids"]),
        timestamps=_ro(get["timestamps"]), confidence=_ro(get["confidence"]), success=_ro(get["success"]),
        aus=dict(sorted(aus.items())), landmarks=_ro(get["landmarks"]) if "landmarks" in get else None,
        pose=_ro(get["pose"]) if "pose" in get else None, truncated=bool(get["truncated"]),
    )
