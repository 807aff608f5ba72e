"""Building the pipelines of a run from its options (``--roi``, ``--au-engine``, ``--model``, ...). No Qt.

One factory for ``analyze`` (and its workers), ``export`` and the window: it lives in the core so
that none of them imports another's front end.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def openface_progress(path: Path | None):
    """A stderr progress bar for OpenFace's run over one input (it can take minutes on a long video)."""
    from tqdm import tqdm

    bars: list[tqdm] = []

    def progress(done: int, total: int) -> None:
        if not bars:  # created on the first report only: a cached result shows no bar
            bars.append(tqdm(desc=f"OpenFace {Path(path).name[:30] if path else ''}", unit="frame", leave=False,
                             dynamic_ncols=True))
        bar = bars[0]
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
        if total and done >= total:
            bar.close()

    return progress


def make_pipeline_factory(args: argparse.Namespace, share_models: bool = False, nets=None):
    """A function ``make(path)`` that builds a fresh Pipeline for one input (each with its own state).

    With ``share_models`` the face networks are loaded once, on the first call, and shared by the
    pipelines it builds afterwards (for inputs analysed one after another, as ``analyze`` and its
    workers do: a pipeline's state is still its own). ``nets``: the face networks to use instead
    of loading them (e.g. a client of a shared :class:`~auepa_monitor.core.net_pool.FaceNetPool`)."""
    from .roi import parse_roi
    from .scoring import PainScorer

    roi = parse_roi(args.roi) if args.roi else None
    if args.model:
        # Checked once, before any input: a model the user names that cannot be loaded is an
        # error (ModelFileError), never a silent run on the shipped prior.
        PainScorer(args.model)
    shared: dict = {}

    def face_nets():
        from .face import FaceTracker

        if nets is not None:
            return nets
        if not share_models:
            return FaceTracker().nets
        if "nets" not in shared:
            shared["nets"] = FaceTracker().nets
        return shared["nets"]

    def make(path: Path | None = None):
        from .face import FaceTracker
        from .pipeline import Pipeline
        from .scoring import PainScorer

        engine = None
        if args.au_engine == "openface":
            from .engines import make_au_engine

            engine = make_au_engine("openface", path, binary=args.openface_bin,
                                    progress=None if getattr(args, "quiet", False) else openface_progress(path))
        scorer = PainScorer(args.model, smoothing=not args.no_smoothing)
        # analyze/export: "recording" keeps each frame's features for the whole-recording pass.
        neutral = getattr(args, "au_neutral", None) or "running"
        if getattr(args, "faces", "target") == "all":
            if engine is not None:
                raise ValueError("--faces all works with the embedded AU engine only (OpenFace's run follows one face)")
            from .all_faces import AllFacesPipeline
            from .engines import make_au_engine

            def per_face(tracker):
                # Each face its own engine: its own running neutral, and (recording) its own second pass.
                return Pipeline(tracker=tracker, au_engine=make_au_engine("embedded", neutral=neutral),
                                scorer=PainScorer(args.model, smoothing=not args.no_smoothing))

            return AllFacesPipeline(face_nets(), per_face)
        tracker = FaceTracker(roi=roi, nets=face_nets()) if share_models or nets is not None else None
        if engine is None:
            from .engines import make_au_engine

            engine = make_au_engine("embedded", neutral=neutral)
        return Pipeline(tracker=tracker, au_engine=engine, scorer=scorer, roi=roi)

    return make
