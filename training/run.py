"""The paper's research pipeline, end to end, on a user's own labelled data.

    python -m training.run --manifest examples/sample_manifest.csv --out runs/example --quick

Stages (each resumable; see :mod:`training.state`): validate the manifest -> frames, crops,
AUs (cached) -> subject-wise folds -> end-to-end CNNs per backbone and fold (Table III) ->
Grad-CAM engagement (Eq. 2, Fig. 5) -> regressor loss for every top-k (Fig. 6) -> method
comparison (Table IV) -> cross-data-set tests without fine-tuning (Tables V, VI) -> final
models with cards -> report. The defaults are the paper's settings; ``--quick`` shrinks them
for a demonstration run on a CPU. See docs/TRAINING.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from auepa_monitor.core.errors import AuepaError
from auepa_monitor.core.records import PAPER_CORE_AUS, TABLE_I_AUS

from . import report as R
from .degenerate import check_predictions
from .folds import fold_indices, subject_folds
from .logs import EpochLog, environment
from .manifest import SCALE_DEFS, class_names, collapse, datasets, read_manifest, scheme_of
from .metrics import Scores, confusion, mean_scores, scores, std_scores
from .state import fingerprint, load_done, save_done, write_json
from .topk import fit_split, flat_k, split_val

QUICK = {"n_frames": 3, "archs": ("resnet18",), "cnn_epochs": 2, "reg_epochs": 30}


@dataclass
class MethodResult:
    """One method on the held-out folds or another data set: mean and std over the fold models,
    the summed confusion matrix, and per fold the (collapsed) truth, prediction, raw output and samples."""

    mean: Scores
    std: Scores
    cm: np.ndarray
    folds: list[Scores]
    truth: list[list[int]]
    pred: list[list[int]]
    raw: list[list[float]] | None
    idx: list[np.ndarray]


@dataclass
class RunConfig:
    """Every setting of a run. Defaults are the paper's (DESIGN.md); ``--quick`` overrides a few."""

    manifest: Path
    out: Path
    cache: Path | None = None
    n_frames: int = 30
    folds: int = 5
    seed: int = 0
    archs: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "vgg11", "vgg16", "vgg19",
                              "vgg11_bn", "vgg16_bn", "vgg19_bn")
    cnn_epochs: int = 25
    cnn_lr: float = 1e-3
    cnn_weight_decay: float = 5e-4
    cnn_batch: int = 8
    engagement_arch: str = "resnet18"
    reg_epochs: int = 100
    reg_lr: float = 0.01
    reg_batch: int = 8
    reg_hidden: int = 3
    reg_dropout: float = 0.2
    val_frac: float = 0.2  # subjects of each training fold held out for best-epoch keeping (0: last epoch)
    augment: bool = True
    lr_schedule: str = "cosine"
    cnn_select: str = "loss"
    nested: bool = False  # choose top-k by an inner CV inside each outer training fold
    inner_folds: int = 3
    tensorboard: bool = True
    top_k: int | None = None  # None: the k with the lowest loss in Fig. 6
    train_dataset: str | None = None  # None: the data set with the most subjects
    weights_dir: Path | None = None
    au_engine: str = "embedded"
    infant_pain_labels: bool = False
    final_cnn: bool = True
    device: str | None = None
    #: torch threads per model trained (None: torch's default here). The serial run and every Ray
    #: task use the same number: results then do not depend on where a job ran.
    threads: int | None = None
    #: Run the independent jobs (CNN per backbone and fold, top-k sweep) on Ray: "local" starts a
    #: local instance, else the address of a running cluster ("auto", "HOST:PORT"). None: serial.
    ray: str | None = None
    quick: bool = False
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def settings(self, *names: str) -> dict[str, Any]:
        return {n: getattr(self, n) for n in names}


class Pipeline:
    """One run: holds the config, the samples and the per-stage results."""

    def __init__(self, cfg: RunConfig, log: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.log = log
        self.out = Path(cfg.out)
        self.state = self.out / "state"
        self.report_dir = self.out / "report"
        self.timings: dict[str, dict[str, Any]] = {}
        self.res: dict[str, dict[str, Any]] = {}

    # -- plumbing -------------------------------------------------------------------------
    def stage(self, name: str, fp: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        done = load_done(self.state / f"{name}.json", fp)
        if done is not None:
            self.timings[name] = {"seconds": done["seconds"], "resumed": True}
            self.log(f"[{name}] done earlier ({done['seconds']:.1f} s), skipped")
            self.res[name] = done
            return done
        self.log(f"[{name}] running")
        t0 = time.perf_counter()
        result = fn()
        sec = time.perf_counter() - t0
        data = save_done(self.state / f"{name}.json", fp, result, sec)
        self.timings[name] = {"seconds": round(sec, 2), "resumed": False}
        self.log(f"[{name}] finished in {sec:.1f} s")
        self.res[name] = data
        return data

    def execute(self, jobs: list[Any], fn: Callable[[Any, Any, Path], Any], data: Any, what: str) -> None:
        """Run independent jobs (:mod:`training.ray_jobs`): here, one after another, or as Ray tasks
        (``--ray``); each writes its own resume state into the run folder."""
        if not jobs:
            return
        if self.cfg.ray is not None:
            from .ray_run import run_jobs

            self.log(f"[{what}] {len(jobs)} job(s) on Ray")
            run_jobs(jobs, fn, data, self.out, self.threads, self.cfg.device, self.log, self.cfg.progress)
            return
        from tqdm import tqdm

        for job in tqdm(jobs, desc=what, unit="job", disable=not self.cfg.progress or len(jobs) < 2, leave=False):
            fn(job, data, self.out)

    def close(self) -> None:
        """Shut down the Ray instance this run started (``--ray`` without an address)."""
        if getattr(self, "_ray_started", False):
            import ray

            ray.shutdown()
            self._ray_started = False

    # -- stages ---------------------------------------------------------------------------
    def run(self) -> Path:
        cfg = self.cfg
        from auepa_monitor.core.pipeline import torch_device

        t0 = time.perf_counter()
        self.rows = read_manifest(cfg.manifest)  # ManifestError lists every bad line; nothing is written
        self.timings["validate"] = {"seconds": round(time.perf_counter() - t0, 2), "resumed": False}
        self.device = cfg.device or torch_device()
        import torch

        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.threads = cfg.threads or torch.get_num_threads()
        if cfg.ray is not None:
            from auepa_monitor.core.parallel import init_ray

            self._ray_started = init_ray(None if cfg.ray == "local" else cfg.ray)
        self.out.mkdir(parents=True, exist_ok=True)
        self.warnings: list[str] = []
        seeds = {"base": cfg.seed, "folds": f"subject folds shuffled with seed {cfg.seed}",
                 "fold_models": f"fold k trains with seed {cfg.seed} + k (weights, batch order, augmentation, "
                                "validation subjects)", "final_models": cfg.seed}
        self.env = environment(self.device, seeds)
        self.env["torch_threads"] = self.threads
        self.env["ray"] = cfg.ray
        write_json(self.out / "config.json", {**dataclasses.asdict(cfg), "environment": self.env})
        self.log(f"[validate] {len(self.rows)} rows OK in {len(datasets(self.rows))} data set(s)")
        self._choose_train_dataset()
        self._extract()
        self._folds()
        self._cnn()
        self._engagement()
        self._topk()
        self._compare()
        self._cross()
        self._final()
        return self._report()

    def _choose_train_dataset(self) -> None:
        groups = datasets(self.rows)
        name = self.cfg.train_dataset
        if name is None:
            # The paper trains on its largest data set: most time points, then most subjects.
            name = max(groups, key=lambda d: (len(groups[d]), len({r.subject for r in groups[d]}),
                                              -list(groups).index(d)))
        elif name not in groups:
            raise AuepaError(f"--train-dataset {name!r} is not in the manifest (data sets: {', '.join(groups)})")
        self.train_ds = name
        self.scheme = scheme_of(groups[name][0].scale)
        self.others = [d for d in groups if d != name]

    def _extract(self) -> None:
        from .extract import Extractor

        cfg = self.cfg
        cache = Path(cfg.cache) if cfg.cache else self.out / "cache"
        ex = Extractor(cache, n_frames=cfg.n_frames, au_engine=cfg.au_engine)
        t0 = time.perf_counter()
        try:
            self.samples = ex.run(self.rows, progress=cfg.progress)
        finally:
            ex.close()
        sec = time.perf_counter() - t0
        self.timings["extract"] = {"seconds": round(sec, 2), "resumed": ex.stats["cached_rows"] == len(self.rows),
                                   "note": f"{ex.stats['cached_rows']}/{len(self.rows)} rows from cache"}
        self.log(f"[extract] {len(self.samples)} fitted frames in {sec:.1f} s "
                 f"({ex.stats['cached_rows']}/{len(self.rows)} rows from cache)")
        s = self.samples
        # Crop stages (folds, CNNs, Grad-CAM) depend on the frames and labels only; AU stages also on
        # the AU engine and its calibration, so a new calibration reruns the regressors, not the CNNs.
        keys = [(ex.key(rs.row), rs.row.subject, rs.row.dataset, rs.row.score, rs.row.scale, rs.frames.tolist())
                for rs in s.rows]
        self.data_fp = fingerprint(keys)
        self.au_fp = fingerprint(self.data_fp, cfg.au_engine, ex._engine_tag())
        self.ds_of = s.datasets
        self.subj_of = s.subjects
        self.levels = s.levels
        self.targets = s.targets
        self.classes = s.classes
        self.au = s.au
        per = {}
        for d, rows in datasets(self.rows).items():
            idx = [i for i, rs in enumerate(s.rows) if rs.row.dataset == d]
            per[d] = {"rows": len(rows), "subjects": len({r.subject for r in rows}),
                      "frames_tried": int(sum(s.rows[i].tried for i in idx)),
                      "frames_fitted": int(sum(len(s.rows[i].frames) for i in idx)),
                      "scale": rows[0].scale, "scheme": scheme_of(rows[0].scale),
                      "levels": np.bincount(self.levels[self.ds_of == d], minlength=4).tolist(),
                      "rule": SCALE_DEFS[rows[0].scale].rule(),
                      "boxed_rows": sum(r.box is not None for r in rows),
                      "classes": sorted({r.cls for r in rows if r.cls})}
            empty = [s.rows[i].row.line for i in idx if len(s.rows[i].frames) == 0]
            if empty:
                per[d]["rows_without_face"] = empty
                self.log(f"[extract] warning: no face found for manifest line(s) {empty}")
        self.data_summary = per

    def _folds(self) -> None:
        cfg = self.cfg
        train_subjects = sorted(set(self.subj_of[self.ds_of == self.train_ds]))
        self.folds = subject_folds(train_subjects, cfg.folds, cfg.seed)
        self.fold_fp = fingerprint(self.data_fp, self.train_ds, cfg.folds, cfg.seed)
        self.train_mask = self.ds_of == self.train_ds
        self.fold_idx: list[tuple[np.ndarray, np.ndarray]] = []
        for f in self.folds:
            tr, te = fold_indices(self.subj_of, f)
            tr = tr[self.train_mask[tr]]
            te = te[self.train_mask[te]]
            assert not set(self.subj_of[tr]) & set(self.subj_of[te]), "subject leakage between train and test"
            self.fold_idx.append((tr, te))
        # Best-epoch validation inside each training fold: some of its subjects, never the test fold's.
        self.fold_val = [split_val(self.subj_of, tr, cfg.val_frac, cfg.seed + k) for k, (tr, _) in enumerate(self.fold_idx)]
        write_json(self.out / "folds.json", [dataclasses.asdict(f) for f in self.folds])
        self.other_idx = {d: np.flatnonzero(self.ds_of == d) for d in self.others}

    def _weights(self, arch: str) -> Path | None:
        from .cnn import weights_file

        return weights_file(self.cfg.weights_dir, arch)

    def _cnn(self) -> None:
        cfg = self.cfg
        from .ray_jobs import CnnData, CnnFoldJob, run_cnn_fold

        params = self._cnn_params()
        fp = fingerprint(self._cnn_base_fp(), cfg.archs, cfg.engagement_arch,
                         {a: str(self._weights(a)) for a in cfg.archs})
        fold_fp = self._cnn_fold_fp

        def work() -> dict[str, Any]:
            out: dict[str, Any] = {"archs": {}}
            jobs = []
            for arch in cfg.archs:
                for k, (_tr, te) in enumerate(self.fold_idx):
                    ffp = fold_fp(arch, k)
                    done = load_done(self.out / "cnn" / arch / f"fold{k}.json", ffp)
                    ckpt = self.out / "cnn" / arch / f"fold{k}.pt"
                    if done is None or (arch == cfg.engagement_arch and not ckpt.is_file()):
                        fit, val = self.fold_val[k]
                        jobs.append(CnnFoldJob(
                            arch, k, len(self.fold_idx), ffp, fit, val, te, params, self.device, cfg.seed + k,
                            self._weights(arch), arch == cfg.engagement_arch,
                            {"trained_on_infant_pain": cfg.infant_pain_labels,
                             "training_data": f"{self.train_ds}, fold {k} training subjects"},
                            cfg.tensorboard, cfg.progress))
            self.execute(jobs, run_cnn_fold, CnnData(self.samples, self.other_idx, self.subj_of), "cnn")
            for arch in cfg.archs:
                folds_out = []
                for k in range(len(self.fold_idx)):
                    done = load_done(self.out / "cnn" / arch / f"fold{k}.json", fold_fp(arch, k))
                    if done is None:
                        raise AuepaError(f"cnn {arch} fold {k}: no result was written")
                    folds_out.append(done)
                per_fold = [scores(self.levels[np.array(f["test_idx"], int)], f["pred"], 4) for f in folds_out]
                out["archs"][arch] = {
                    "pretrained": str(self._weights(arch)) if self._weights(arch) else None,
                    "folds": [s.as_dict() for s in per_fold],
                    "mean": mean_scores(per_fold).as_dict(),
                    "std": std_scores(per_fold).as_dict(),
                    "best_epochs": [f.get("best_epoch") for f in folds_out],
                    "seconds": round(sum(f["seconds"] for f in folds_out), 2),
                    "fold_seconds": [f["seconds"] for f in folds_out],
                }
            return out

        self.stage("cnn", fp, work)
        self.cnn_fp = fp

    def _cnn_base_fp(self) -> str:
        return fingerprint(self.fold_fp, dataclasses.asdict(self._cnn_params()), self.others, self.cfg.val_frac)

    def _cnn_fold_fp(self, arch: str, k: int) -> str:
        """The resume key of one backbone's fold model: its folds, settings and own weights file only,
        so changing --archs on a resumed run trains the added backbones and reads the others back
        (issue 12, defect 10)."""
        return fingerprint(self._cnn_base_fp(), arch, str(self._weights(arch)), k)

    def _cnn_params(self):
        from .cnn import CnnParams

        c = self.cfg
        return CnnParams(c.cnn_epochs, c.cnn_lr, c.cnn_weight_decay, c.cnn_batch, c.augment, c.lr_schedule,
                         c.cnn_select)

    def _log(self, *parts: str) -> EpochLog:
        """The per-epoch log (epochs.csv + TensorBoard events) of one trained model: OUT/logs/<parts>/."""
        return EpochLog(self.out.joinpath("logs", *parts), tensorboard=self.cfg.tensorboard)

    def _cnn_fold(self, arch: str, k: int) -> dict[str, Any]:
        import json

        return json.loads((self.out / "cnn" / arch / f"fold{k}.json").read_text())

    def _engagement(self) -> None:
        cfg = self.cfg
        arch = cfg.engagement_arch
        if arch not in cfg.archs:
            raise AuepaError(f"--engagement-arch {arch} must be one of the trained --archs ({', '.join(cfg.archs)})")
        fp = fingerprint(self.cnn_fp, arch, "eq2")

        def work() -> dict[str, Any]:
            from tqdm import tqdm

            from auepa_monitor.core.au_regions import region_boxes
            from auepa_monitor.core.gradcam import GradCam
            from auepa_monitor.nets.pain_cnn import load_checkpoint, target_layer

            from .cnn import batch_tensor
            from .engagement import eq2_engagement

            n_test = 0
            plan = []
            for k in range(len(self.folds)):
                f = self._cnn_fold(arch, k)
                te, pred = np.array(f["test_idx"], int), np.array(f["pred"], int)
                n_test += len(te)
                plan.append((k, te, pred))
            n_correct = sum(int((self.levels[te] == pred).sum()) for _, te, pred in plan)
            # No correct image would leave Eq. 2's N empty: then every held-out image is used (and said so).
            use_all = n_correct == 0
            examples: list[tuple[int, np.ndarray, int]] = []
            bar = tqdm(total=n_test if use_all else n_correct, desc="Grad-CAM (Eq. 2)", unit="img",
                       disable=not cfg.progress, leave=False)

            def cams():
                for k, te, pred in plan:
                    model, _, _ = load_checkpoint(self.out / "cnn" / arch / f"fold{k}.pt", self.device)
                    with GradCam(model, target_layer(model, arch)) as gc:
                        for i, p in zip(te, pred, strict=True):
                            if not use_all and self.levels[i] != p:
                                continue  # skip the Grad-CAM of images Eq. 2 leaves out
                            res = gc(batch_tensor(self.samples, [int(i)], self.device), class_idx=int(p))
                            # Examples for the figure: one per predicted level, each from another time point.
                            if int(p) not in [e[2] for e in examples] and \
                                    self.samples.row_of[i] not in [self.samples.row_of[e[0]] for e in examples]:
                                examples.append((int(i), res.cam, int(p)))
                            bar.update(1)
                            yield res.cam, self.samples.centers(int(i)), int(self.levels[i]), int(p)

            acc = eq2_engagement(cams(), correct_only=not use_all)
            bar.close()
            raw = acc.result()
            ranking = acc.ranking()
            fig_dir = self.report_dir / "figures"
            fig_dir.mkdir(parents=True, exist_ok=True)
            R.cam_examples_figure(
                fig_dir / "gradcam_examples.png", [self.samples.crop(i) for i, _, _ in examples],
                [c for _, c, _ in examples], [region_boxes(self.samples.centers(i)) for i, _, _ in examples],
                [f"{self.samples.rows[self.samples.row_of[i]].row.subject}: true {self.levels[i]} / pred {p}"
                 for i, _, p in examples])
            return {"arch": arch, "images": acc.count, "correct_only": not use_all, "test_images": n_test,
                    "engagement": {str(a): v for a, v in raw.items()},
                    "ranking": [[a, v] for a, v in ranking]}

        self.stage("engagement", fp, work)
        self.ranking = [int(a) for a, _ in self.res["engagement"]["ranking"]]
        # Table I AUs that had no region (cannot happen with the app's crop) go last, in Table I order.
        self.ranking += [a for a in TABLE_I_AUS if a not in self.ranking]
        self.eng_norm = {int(a): float(v) for a, v in self.res["engagement"]["ranking"]}

    def _reg_params(self):
        from .regressor import RegParams

        c = self.cfg
        return RegParams(c.reg_epochs, c.reg_lr, c.reg_batch, c.reg_hidden, c.reg_dropout, c.lr_schedule)

    def _topk(self) -> None:
        cfg = self.cfg
        params = self._reg_params()
        fp = fingerprint(self.fold_fp, self.au_fp, self.res["engagement"]["fingerprint"], dataclasses.asdict(params),
                         cfg.val_frac, cfg.nested, cfg.inner_folds)

        def work() -> dict[str, Any]:
            from .ray_jobs import NestedJob, TopkData, TopkJob, run_nested, run_topk

            ks = list(range(1, len(self.ranking) + 1))
            data = TopkData(self.au, self.targets, self.subj_of, self.fold_idx, self.other_idx, list(self.ranking))
            # One job per k (all folds), each with its own resume state (topk/kNN.json).
            jobs = [TopkJob(k, fingerprint(fp, "k", k), params, cfg.seed, cfg.val_frac, cfg.tensorboard) for k in ks]
            self.execute([j for j in jobs if load_done(self.out / j.state, j.fp) is None], run_topk, data,
                         "top-k regressors (Fig. 6)")
            out: dict[str, Any] = {"ks": ks, "loss_mean": [], "loss_std": [], "folds": {}}
            for j in jobs:
                done = load_done(self.out / j.state, j.fp)
                if done is None:
                    raise AuepaError(f"{j.name}: no result was written")
                out["loss_mean"].append(float(np.mean(done["loss"])))
                out["loss_std"].append(float(np.std(done["loss"])))
                out["folds"][str(j.k)] = {"loss": done["loss"], "pred": done["pred"], "best_epoch": done["best_epoch"]}
            out["best_k"] = flat_k({k: out["folds"][str(k)]["loss"] for k in ks})
            if cfg.nested:
                # Per outer fold: k chosen by an inner CV on that fold's training subjects only.
                njobs = [NestedJob(f, fingerprint(fp, "nested", f), params, cfg.seed, cfg.val_frac, cfg.inner_folds)
                         for f in range(len(self.fold_idx))]
                self.execute([j for j in njobs if load_done(self.out / j.state, j.fp) is None], run_nested, data,
                             "nested top-k (inner CV)")
                nk, inner = [], []
                for j in njobs:
                    done = load_done(self.out / j.state, j.fp)
                    if done is None:
                        raise AuepaError(f"{j.name}: no result was written")
                    nk.append(int(done["k"]))
                    inner.append(done["inner_loss"])
                out["nested"] = {"ks": nk, "inner_loss": inner, "inner_folds": cfg.inner_folds}
            return out

        self.stage("topk", fp, work)
        self.best_k = int(cfg.top_k or self.res["topk"]["best_k"])
        if not 1 <= self.best_k <= len(self.ranking):
            raise AuepaError(f"--top-k {self.best_k} must be between 1 and {len(self.ranking)}")

    def _compare(self) -> None:
        cfg = self.cfg
        params = self._reg_params()
        fp = fingerprint(self.res["topk"]["fingerprint"], self.best_k, dataclasses.asdict(params))

        def work() -> dict[str, Any]:
            from .regressor import PspiMap, au_matrix, predict_scores, pspi_values

            def fit_pred(aus: list[int], w: list[float], f: int, tr: np.ndarray, te: np.ndarray,
                         log: EpochLog | None = None) -> dict[str, Any]:
                x = au_matrix(self.au, aus)
                m, tres = fit_split(x, self.targets, self.subj_of, tr, aus, w, params, cfg.seed + f, cfg.val_frac, log)
                if log is not None:
                    log.close()
                return {"test": predict_scores(m, x[te]).tolist(), "best_epoch": tres.best_epoch,
                        "other": {d: predict_scores(m, x[idx]).tolist() for d, idx in self.other_idx.items()}}

            aus = self.ranking[:self.best_k]
            w = [self.eng_norm.get(a, 0.0) for a in aus]
            p_all = pspi_values(self.au)
            out: dict[str, Any] = {"core_aus": aus, "engagement": w, "pspi": [], "weighted": []}
            for f, (tr, te) in enumerate(self.fold_idx):
                pm = PspiMap.fit(p_all[tr], self.targets[tr])
                out["pspi"].append({"map": dataclasses.asdict(pm), "test": pm.scores(p_all[te]).tolist(),
                                    "other": {d: pm.scores(p_all[idx]).tolist() for d, idx in self.other_idx.items()}})
                out["weighted"].append(fit_pred(aus, w, f, tr, te, self._log("aue_ipa", f"fold{f}")))
            if "nested" in self.res["topk"]:
                out["nested_plain"], out["nested_weighted"] = [], []
                for f, (tr, te) in enumerate(self.fold_idx):
                    a_f = self.ranking[:self.res["topk"]["nested"]["ks"][f]]
                    out["nested_plain"].append(fit_pred(a_f, [1.0] * len(a_f), f, tr, te))
                    out["nested_weighted"].append(fit_pred(a_f, [self.eng_norm.get(a, 0.0) for a in a_f], f, tr, te,
                                                           self._log("aue_ipa_nested", f"fold{f}")))
            return out

        self.stage("compare", fp, work)

    # -- metrics from stored predictions ----------------------------------------------------
    def _method_scores(self, scheme: str, idx_of: Callable[[int], np.ndarray],
                       preds_of: Callable[[int], np.ndarray],
                       raw_of: Callable[[int], list[float]] | None = None,
                       same_images_each_fold: bool = False) -> MethodResult:
        """Mean and std over folds of the scores, the confusion matrix summed over folds, in ``scheme``."""
        n = 4 if scheme == "4level" else 2
        per, cm, truths, preds, idxs = [], np.zeros((n, n), int), [], [], []
        for f in range(len(self.folds)):
            idx = idx_of(f)
            t = collapse(list(self.levels[idx]), scheme)
            p = collapse(list(preds_of(f)), scheme)
            per.append(scores(t, p, n))
            cm += confusion(t, p, n)
            truths.append(t)
            preds.append(p)
            idxs.append(idx)
        m = mean_scores(per)
        raw = [list(map(float, raw_of(f))) for f in range(len(self.folds))] if raw_of is not None else None
        # n = images scored once: the held-out folds together, or the other data set's size.
        m = dataclasses.replace(m, n=len(truths[-1]) if same_images_each_fold else int(cm.sum()))
        return MethodResult(m, std_scores(per), cm, per, truths, preds, raw, idxs)

    def _methods(self, where: str) -> dict[str, MethodResult]:
        """Every method's scores on the held-out folds (``where="test"``) or on another data set."""
        from .regressor import levels_of

        top = self.res["topk"]["folds"]
        cmp = self.res["compare"]
        k_all = str(len(self.ranking))
        k_best = str(self.best_k)
        other = where != "test"
        if not other:
            scheme = self.scheme
            idx_of = lambda f: self.fold_idx[f][1]  # noqa: E731
            sel = lambda d: d["test"]  # noqa: E731
        else:
            scheme = self.data_summary[where]["scheme"]
            idx_of = lambda f: self.other_idx[where]  # noqa: E731
            sel = lambda d: d["other"][where]  # noqa: E731

        def reg(items: list[dict[str, Any]]) -> MethodResult:
            return self._method_scores(scheme, idx_of, lambda f: levels_of(np.array(sel(items[f]))),
                                       lambda f: sel(items[f]), same_images_each_fold=other)

        m: dict[str, MethodResult] = {"PSPI": reg(cmp["pspi"])}
        for arch in self.cfg.archs:
            def cnn_pred(f: int, arch: str = arch) -> np.ndarray:
                d = self._cnn_fold(arch, f)
                return np.array(d["pred"] if not other else d["other_pred"][where], int)
            m[arch] = self._method_scores(scheme, idx_of, cnn_pred, same_images_each_fold=other)
        m[f"all {k_all} AUs"] = reg(top[k_all]["pred"])
        m[f"top-{k_best} AUs"] = reg(top[k_best]["pred"])
        m[f"top-{k_best} AUs with weight (AuE-IPA)"] = reg(cmp["weighted"])
        if "nested_weighted" in cmp:
            m["top-k AUs, k nested"] = reg(cmp["nested_plain"])
            m["top-k AUs with weight (AuE-IPA), k nested"] = reg(cmp["nested_weighted"])
        return m

    def _cross(self) -> None:
        t0 = time.perf_counter()
        self.table_iv = self._methods("test")
        self.cross = {d: self._methods(d) for d in self.others if len(self.other_idx[d])}
        self.timings["compare+cross metrics"] = {"seconds": round(time.perf_counter() - t0, 2), "resumed": False}
        # Degenerate models: said in the log and in the report.
        for where, meths in [("test", self.table_iv), *self.cross.items()]:
            scheme = self.scheme if where == "test" else self.data_summary[where]["scheme"]
            place = f"held-out folds of {self.train_ds}" if where == "test" else f"data set {where}"
            for name, r in meths.items():
                for w in check_predictions(name, r.truth, r.pred, class_names(scheme), r.raw, place):
                    self.warnings.append(w)
                    self.log(f"[warning] degenerate model: {w}")

    def _per_class(self, meths: dict[str, MethodResult]) -> tuple[list[str], list[list[object]]] | None:
        """Per class / stimulus: samples, true pain share, and each method's accuracy and predicted pain share."""
        first = next(iter(meths.values()))
        idx = np.concatenate(first.idx) if first.idx else np.zeros(0, int)
        cls = self.classes[idx]
        if not any(cls):
            return None
        names = list(meths)
        header = ["class", "predictions", "true pain (%)", *[f"{n}: accuracy (%)" for n in names],
                  *[f"{n}: predicted pain (%)" for n in names]]
        rows = []
        truth = np.concatenate([np.asarray(t) for t in first.truth])
        for c in sorted(set(cls.tolist())):
            sel = cls == c
            row: list[object] = [c or "(none)", int(sel.sum()), round(100.0 * float((truth[sel] > 0).mean()), 1)]
            accs, pains = [], []
            for n in names:
                p = np.concatenate([np.asarray(x) for x in meths[n].pred])
                accs.append(round(100.0 * float((p[sel] == truth[sel]).mean()), 1))
                pains.append(round(100.0 * float((p[sel] > 0).mean()), 1))
            rows.append(row + accs + pains)
        return header, rows

    def _labels_note(self) -> str:
        return ("infant pain labels" if self.cfg.infant_pain_labels else
                "labels NOT declared as infant pain labels (run without --infant-pain-labels)")

    def _final(self) -> None:
        """The shipped models, trained on the whole training data set: regressor, then CNN (own stages)."""
        cfg = self.cfg
        params = self._reg_params()
        iv = {k: v.mean.as_dict() for k, v in self.table_iv.items()}
        models = self.out / "models"
        idx = np.flatnonzero(self.train_mask)
        from auepa_monitor.model_card import ModelCard

        def regressor() -> dict[str, Any]:
            from .regressor import au_matrix

            models.mkdir(parents=True, exist_ok=True)
            aus = self.ranking[:self.best_k]
            w = [self.eng_norm.get(a, 0.0) for a in aus]
            log = self._log("final", "aue_ipa")
            reg, tres = fit_split(au_matrix(self.au, aus), self.targets, self.subj_of, idx, aus, w, params, cfg.seed,
                                  cfg.val_frac, log)
            log.close()
            name_w = f"top-{self.best_k} AUs with weight (AuE-IPA)"
            card = ModelCard(
                name=f"AuE-IPA regressor ({self.train_ds}, top-{self.best_k} AUs)",
                kind="pain_regressor", trained_on_infant_pain=cfg.infant_pain_labels,
                training_data=(f"manifest {Path(cfg.manifest).name}, data set {self.train_ds}: {len(idx)} frames of "
                               f"{len(set(self.subj_of[idx]))} subjects; {self._labels_note()}; "
                               f"AU engine {cfg.au_engine}"),
                output_scale="pain score 0-10 (FLACC-like); levels [0,2.5) no, [2.5,5) weak, [5,7.5) mid, [7.5,10] strong",
                created=dt.date.today().isoformat(), built_by="training/run.py",
                metrics={"cv_folds": len(self.folds), **{f"cv_{k}": round(v, 4) for k, v in iv[name_w].items()}},
                extra={"core_aus": aus, "engagement": w, "engagement_arch": cfg.engagement_arch,
                       "hyperparameters": dataclasses.asdict(params), "seed": cfg.seed,
                       "best_epoch": tres.best_epoch, "selected_by": tres.selected_by})
            reg.save(models / "pain_regressor.pt", card)
            return {"path": "models/pain_regressor.pt", "best_epoch": tres.best_epoch}  # relative: a moved run folder still resumes

        self.stage("final_regressor", fingerprint(self.res["compare"]["fingerprint"], cfg.infant_pain_labels),
                   regressor)
        if not cfg.final_cnn:
            return
        arch = cfg.engagement_arch

        def cnn() -> dict[str, Any]:
            from auepa_monitor.nets.pain_cnn import PAIN_CLASSES, save_checkpoint

            from .cnn import train_cnn

            cp = self._cnn_params()
            wp = self._weights(arch)
            fit, val = split_val(self.subj_of, idx, cfg.val_frac, cfg.seed)
            log = self._log("final", f"cnn_{arch}")
            model, tres = train_cnn(arch, self.samples, fit, cp, self.device, cfg.seed, wp,
                                    desc=f"final {arch}", progress=cfg.progress, val_idx=val, log=log)
            log.close()
            init = f"ImageNet weights from {wp}" if wp else "trained from scratch (no ImageNet weights file)"
            ccard = ModelCard(
                name=f"{arch} pain CNN ({self.train_ds})", kind="pain_cnn",
                trained_on_infant_pain=cfg.infant_pain_labels,
                training_data=(f"manifest {Path(cfg.manifest).name}, data set {self.train_ds}: {len(idx)} aligned "
                               f"crops of {len(set(self.subj_of[idx]))} subjects; {self._labels_note()}; {init}"),
                output_scale="4 pain levels: " + ", ".join(PAIN_CLASSES), created=dt.date.today().isoformat(),
                built_by="training/run.py",
                metrics={"cv_folds": len(self.folds), **{f"cv_{k}": round(v, 4) for k, v in iv[arch].items()}})
            save_checkpoint(models / f"pain_cnn_{arch}.pt", model, arch, PAIN_CLASSES, ccard,
                            {"training": {"epochs": cp.epochs, "train_samples": int(len(fit)), "seed": cfg.seed,
                                          "val_samples": int(len(val)), "best_epoch": tres.best_epoch,
                                          "dataset": self.train_ds, "pretrained": str(wp) if wp else None}})
            return {"path": f"models/pain_cnn_{arch}.pt", "best_epoch": tres.best_epoch}

        self.stage("final_cnn", fingerprint(self.cnn_fp, cfg.infant_pain_labels), cnn)

    # -- report ---------------------------------------------------------------------------
    def _report(self) -> Path:
        cfg = self.cfg
        t0 = time.perf_counter()
        rd = self.report_dir
        tab = rd / "tables"
        fig = rd / "figures"
        tab.mkdir(parents=True, exist_ok=True)
        fig.mkdir(parents=True, exist_ok=True)
        md: list[str] = []
        add = md.append
        add(f"# AuE-IPA research pipeline report\n\nManifest `{cfg.manifest}`, run {dt.datetime.now():%Y-%m-%d %H:%M}, "
            f"device `{self.device}`, AU engine `{cfg.au_engine}`, seed {cfg.seed}"
            f"{', **quick settings (not the paper’s)**' if cfg.quick else ''}.\n")
        if not cfg.infant_pain_labels:
            add("> **The labels of this run are not declared as infant pain labels** (no `--infant-pain-labels`). "
                "Nothing here measures pain assessment; model cards say `trained_on_infant_pain: false`.\n")
        if self.warnings:
            add("## Warnings: degenerate models\n")
            add("A model with a constant output or a class it never predicts can still show a fair WA on an unbalanced "
                "fold; read its rows below with that in mind.\n")
            add("\n".join(f"- {w}" for w in self.warnings) + "\n")
        add("## Data\n")
        rows = [[d, v["scale"], v["scheme"], v["subjects"], v["rows"], v.get("boxed_rows", 0), v["frames_tried"],
                 v["frames_fitted"], " / ".join(map(str, v["levels"])), ", ".join(v.get("classes", [])) or "-",
                 "train + CV" if d == self.train_ds else "cross-data-set test"]
                for d, v in self.data_summary.items()]
        hdr = ["data set", "scale", "label scheme", "subjects", "time points", "with face box", "frames read",
               "faces fitted", "frames per level 0/1/2/3", "classes", "role"]
        add(R.markdown_table(hdr, rows))
        R.write_csv(tab / "data.csv", hdr, rows)
        add("\nLabel mapping: every score becomes a 0-10 target by a piecewise-linear map that sends the scale's "
            "lowest score to 0, its pain threshold to 2.5 and its top to 10, then a level by [0,2.5) no pain, "
            "[2.5,5) weak, [5,7.5) mid, [7.5,10] strong (Table II). Scales here: "
            + "; ".join(f"`{d}`: {v.get('rule', v['scale'])}" for d, v in self.data_summary.items())
            + ". FLACC data sets are scored on the 4 levels; NFCS, NIPS and pain/no-pain data sets on 2 (no pain vs "
            "pain), and every model's 4-level output is collapsed the same way (no pain -> no pain, "
            "weak/mid/strong -> pain).\n")
        add(f"\n{len(self.folds)}-fold cross-validation by subject on `{self.train_ds}` (seed {cfg.seed}); "
            "no subject is in both train and test of a fold (checked). Fold subjects: "
            + "; ".join(f"fold {f.index}: {', '.join(f.test_subjects)}" for f in self.folds) + ".\n")
        val_txt = ("; ".join(f"fold {k}: {', '.join(sorted(set(self.subj_of[v].tolist()))) or '-'}"
                           for k, (_, v) in enumerate(self.fold_val)))
        add(f"\nTraining: inside each training fold {cfg.val_frac:.0%} of the subjects (at least one) are held out "
            "for validation and every model keeps its best validation epoch (CNN: lowest validation "
            f"{'cross-entropy' if cfg.cnn_select == 'loss' else cfg.cnn_select.upper()}; regressor: lowest validation "
            f"SmoothL1); validation subjects: {val_txt}. Learning-rate schedule: {cfg.lr_schedule}; CNN augmentation: "
            f"{'flip, rotation +-10 deg, scale 0.9-1.1, colour jitter +-20 %' if cfg.augment else 'off'}. "
            "Every table gives the mean ± std over the fold models. Per-epoch logs: `logs/<model>/epochs.csv` and "
            "TensorBoard events in the same folders (`tensorboard --logdir logs`).\n" if cfg.val_frac > 0 else
            "\nTraining: no validation split (`--val-frac 0`): every model keeps its last epoch.\n")
        env = self.env
        git = env["git"]
        add(f"\nEnvironment (`config.json`): Python {env['python']}, "
            + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v) + f"; git commit `{git['commit']}`"
            + (" (with uncommitted changes)" if git.get("dirty") else "") + f"; device `{env['device']['torch_device']}`"
            f" ({env['device']['cpu_count']} CPUs).\n")
        # Table III
        cnn = self.res["cnn"]["archs"]
        per_arch = {a: Scores(**cnn[a]["mean"]) for a in cfg.archs}
        std_arch = {a: Scores(**cnn[a]["std"]) for a in cfg.archs}
        h3, r3 = R.table_iii_rows(per_arch, std_arch)
        add("\n## Table III: end-to-end backbones (held-out folds, mean ± std over folds)\n")
        add(R.markdown_table(h3, r3))
        R.write_csv(tab / "table3_backbones.csv", *R.table_iii_csv(per_arch, std_arch))
        add("\nBest epoch per fold: " + "; ".join(f"{a}: {', '.join(map(str, cnn[a]['best_epochs']))}"
                                                 for a in cfg.archs) + f" (of {cfg.cnn_epochs}).\n")
        add("\nInitialisation: " + "; ".join(
            f"{a}: {'ImageNet weights from ' + cnn[a]['pretrained'] if cnn[a]['pretrained'] else 'from scratch'}"
            for a in cfg.archs) + f". Hyperparameters: Adam lr {cfg.cnn_lr}, weight decay {cfg.cnn_weight_decay}, "
            f"batch {cfg.cnn_batch}, {cfg.cnn_epochs} epochs.\n")
        # Fig. 5
        eng = self.res["engagement"]
        R.engagement_figure(fig / "fig5_engagement.png", [(int(a), v) for a, v in eng["ranking"]],
                            f"AU engagement (Eq. 2), {eng['arch']} Grad-CAM over {eng['images']} "
                            f"{'correctly classified' if eng['correct_only'] else 'test (none correct!)'} images",
                            self.best_k)
        add("\n## Fig. 5: AU engagement (Eq. 2)\n")
        add(f"Grad-CAM of `{eng['arch']}` (each fold's model on its own held-out images) over the "
            f"{eng['images']} {'correctly classified' if eng['correct_only'] else ''} images of {eng['test_images']}. "
            + ("" if eng["correct_only"] else "**No held-out image was classified correctly, so every held-out image "
               "was used instead of the correctly classified set.** ") + "\n")
        add("\n![Fig. 5](figures/fig5_engagement.png)\n\n![Grad-CAM examples](figures/gradcam_examples.png)\n")
        er = [[i + 1, f"AU{a}", round(eng["engagement"][str(a)], 4), round(v, 3)]
              for i, (a, v) in enumerate(eng["ranking"])]
        add(R.markdown_table(["rank", "AU", "engagement (Eq. 2, 0-1)", "normalised"], er))
        R.write_csv(tab / "fig5_engagement.csv", ["rank", "AU", "engagement", "normalised"], er)
        add(f"\nPaper's core AUs for comparison: {', '.join(f'AU{a}' for a in PAPER_CORE_AUS)}.\n")
        # Fig. 6
        tk = self.res["topk"]
        R.topk_figure(fig / "fig6_topk_loss.png", tk["ks"], tk["loss_mean"], tk["loss_std"],
                      [f"AU{a}" for a in self.ranking], tk["best_k"],
                      "Regressor loss vs number of top-engaged AUs (held-out folds)")
        add("\n## Fig. 6: regressor loss for the top-k AUs\n\n![Fig. 6](figures/fig6_topk_loss.png)\n")
        kr = [[k, "+AU" + str(self.ranking[k - 1]), round(m, 4), round(s, 4)]
              for k, m, s in zip(tk["ks"], tk["loss_mean"], tk["loss_std"], strict=True)]
        add(R.markdown_table(["k", "AU added", "test SmoothL1 (mean)", "std over folds"], kr))
        R.write_csv(tab / "fig6_topk_loss.csv", ["k", "au_added", "loss_mean", "loss_std"], kr)
        chosen = "set by --top-k" if cfg.top_k else "lowest mean loss over the same folds Table IV reports (flat)"
        add(f"\nCore AUs used below: top-{self.best_k} ({chosen}): "
            f"{', '.join(f'AU{a}' for a in self.ranking[:self.best_k])}. Regressor: Adam lr {cfg.reg_lr}, SmoothL1Loss, "
            f"batch {cfg.reg_batch}, {cfg.reg_epochs} epochs, hidden {cfg.reg_hidden}, dropout {cfg.reg_dropout}.\n")
        if "nested" in tk:
            nk = tk["nested"]["ks"]
            add(f"\n**Nested choice of k** (`--nested`): in each outer fold k is chosen by a "
                f"{tk['nested']['inner_folds']}-fold subject-wise CV on that fold's training subjects only; chosen k per "
                f"outer fold: {', '.join(map(str, nk))} (flat choice: {tk['best_k']}). Table IV's `k nested` rows use "
                "them; their spread is the honest estimate. (The AU ranking itself still comes from every fold's "
                "held-out Grad-CAM.)\n")
            R.write_csv(tab / "nested_topk.csv", ["outer fold", "k", *[f"inner loss k={k}" for k in tk["ks"]]],
                        [[f, k, *[round(tk["nested"]["inner_loss"][f][str(kk)], 4) for kk in tk["ks"]]]
                         for f, k in enumerate(nk)])
        # Table IV
        add(f"\n## Table IV: methods on `{self.train_ds}` (held-out folds, mean ± std over folds)\n")
        self._method_table(self.table_iv, "table4_methods", "table4", "Table IV", self.scheme, add, tab, fig)
        add("\nPSPI (Eq. 1, 0-16) becomes a 0-10 score by a straight line fitted on each training fold, then a level. "
            "Regressor rows: unweighted MLP on all Table I AUs, on the top-k, and the engagement-weighted MLP.\n")
        # Tables V, VI
        for j, (d, meth) in enumerate(self.cross.items()):
            tname = ["V", "VI"][j] if j < 2 else f"V.{j + 1}"
            add(f"\n## Table {tname}: trained on `{self.train_ds}`, tested on `{d}` without fine-tuning\n")
            self._method_table(meth, f"table{tname.replace('.', '_')}_cross_{d}", f"table{tname.replace('.', '_')}_{d}",
                               f"Table {tname} ({d})",
                               self.data_summary[d]["scheme"], add, tab, fig)
            add(f"\nLabel scheme of `{d}`: {self.data_summary[d]['scheme']} ({', '.join(class_names(self.data_summary[d]['scheme']))}). "
                "Each method's metrics are the mean ± std over its fold models (each trained on "
                f"{len(self.folds) - 1}/{len(self.folds)} of the training subjects); the confusion matrix sums them.\n")
        if not self.cross:
            add("\n## Tables V, VI\n\nThe manifest has no second data set: no cross-data-set test was run.\n")
        # Models
        add("\n## Models\n")
        add(f"- `{self.res['final_regressor']['path']}` (+ `.card.json`): "
            f"engagement-weighted top-{self.best_k} regressor trained on all of `{self.train_ds}` (best validation "
            f"epoch {self.res['final_regressor'].get('best_epoch')}); loads in the app with `PainRegressor.load`.\n")
        if "final_cnn" in self.res:
            add(f"- `{self.res['final_cnn']['path']}` (+ `.card.json`): end-to-end "
                f"{cfg.engagement_arch} trained on all of `{self.train_ds}` (best validation epoch "
                f"{self.res['final_cnn'].get('best_epoch')}); loads with `pain_cnn.load_checkpoint`.\n")
        # Timings
        self.timings["report"] = {"seconds": round(time.perf_counter() - t0, 2), "resumed": False}
        add("\n## Stage timings\n")
        tr = [[k, v["seconds"], "yes" if v.get("resumed") else "no", v.get("note", "")] for k, v in self.timings.items()]
        for a in cfg.archs:
            tr.append([f"  cnn {a} ({len(self.folds)} folds incl. predictions)", cnn[a]["seconds"], "", ""])
        add(R.markdown_table(["stage", "seconds", "from earlier run", "note"], tr))
        R.write_csv(tab / "timings.csv", ["stage", "seconds", "resumed", "note"], tr)
        (rd / "README.md").write_text("\n".join(md), encoding="utf-8")
        write_json(rd / "results.json", {
            "table3": {a: per_arch[a].as_dict() for a in cfg.archs},
            "table3_std": {a: std_arch[a].as_dict() for a in cfg.archs},
            "table4": {n: r.mean.as_dict() for n, r in self.table_iv.items()},
            "table4_std": {n: r.std.as_dict() for n, r in self.table_iv.items()},
            "table4_confusion": {n: r.cm.tolist() for n, r in self.table_iv.items()},
            "cross": {d: {n: r.mean.as_dict() for n, r in m.items()} for d, m in self.cross.items()},
            "cross_std": {d: {n: r.std.as_dict() for n, r in m.items()} for d, m in self.cross.items()},
            "engagement": eng["ranking"], "best_k": self.best_k,
            "nested_k": tk.get("nested", {}).get("ks"), "warnings": self.warnings, "timings": self.timings})
        self.log(f"[report] {rd / 'README.md'}")
        return rd / "README.md"

    def _method_table(self, meths: dict[str, MethodResult], stem: str, short: str, title: str, scheme: str,
                      add: Callable[[str], None], tab: Path, fig: Path) -> None:
        """A methods table (mean ± std), its confusion matrices (CSV + figure) and per-class results."""
        header, rows = R.metric_rows_pm({n: (r.mean, r.std) for n, r in meths.items()})
        add(R.markdown_table(header, rows))
        R.write_csv(tab / f"{stem}.csv", *R.metric_csv({n: (r.mean, r.std) for n, r in meths.items()}))
        names = class_names(scheme)
        R.write_csv(tab / f"confusion_{short}.csv", ["method", "true", "predicted", "count"],
                    [[n, names[i], names[j], int(v)] for n, r in meths.items() for (i, j), v in np.ndenumerate(r.cm)])
        R.confusion_figure(fig / f"confusion_{short}.png", {n: r.cm for n, r in meths.items()},
                           {n: names for n in meths}, title=f"{title}: confusion matrices (rows = true, summed over folds)")
        add(f"\nConfusion matrices (rows = true class, summed over the fold models): `tables/confusion_{short}.csv`.\n\n"
            f"![confusion matrices {title}](figures/confusion_{short}.png)\n")
        pc = self._per_class(meths)
        if pc is not None:
            R.write_csv(tab / f"perclass_{short}.csv", *pc)
            h, rws = pc
            n_m = len(meths)
            keep = [0, 1, 2, *range(3, 3 + n_m)]
            add("\nPer class / stimulus: accuracy (%) on the label scheme; `predictions` counts every held-out "
                "sample once (Table IV) or once per fold model (Tables V, VI); predicted-pain shares in "
                f"`tables/perclass_{short}.csv`:\n")
            add(R.markdown_table([h[i].replace(": accuracy (%)", "") for i in keep], [[r[i] for i in keep] for r in rws]))


def build_parser() -> argparse.ArgumentParser:
    d = RunConfig(Path("."), Path("."))
    ap = argparse.ArgumentParser(prog="python -m training.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", required=True, type=Path, help="CSV manifest (docs/TRAINING.md)")
    ap.add_argument("--out", required=True, type=Path, help="run folder (rerun with the same folder to resume)")
    ap.add_argument("--cache", type=Path, help="frame/crop/AU cache folder (default: OUT/cache)")
    ap.add_argument("--quick", action="store_true",
                    help="demonstration settings: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    ap.add_argument("--frames", dest="n_frames", type=int, help=f"consecutive frames per time point ({d.n_frames})")
    ap.add_argument("--folds", type=int, default=d.folds)
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--archs", help=f"comma-separated backbones (default: all of Table III: {','.join(d.archs)})")
    ap.add_argument("--cnn-epochs", type=int, help=f"({d.cnn_epochs})")
    ap.add_argument("--cnn-lr", type=float, default=d.cnn_lr)
    ap.add_argument("--cnn-weight-decay", type=float, default=d.cnn_weight_decay)
    ap.add_argument("--cnn-batch", type=int, default=d.cnn_batch)
    ap.add_argument("--engagement-arch", default=d.engagement_arch)
    ap.add_argument("--reg-epochs", type=int, help=f"({d.reg_epochs})")
    ap.add_argument("--reg-lr", type=float, default=d.reg_lr)
    ap.add_argument("--reg-batch", type=int, default=d.reg_batch)
    ap.add_argument("--reg-dropout", type=float, default=d.reg_dropout)
    ap.add_argument("--top-k", type=int, help="core AUs to use (default: the k with the lowest loss, Fig. 6)")
    ap.add_argument("--val-frac", type=float, default=d.val_frac,
                    help=f"share of each training fold's subjects held out to pick the best epoch ({d.val_frac}; "
                         "0: keep the last epoch)")
    ap.add_argument("--no-augment", action="store_true", help="no CNN augmentation (flip, rotation, scale, colour)")
    ap.add_argument("--lr-schedule", choices=("cosine", "step", "none"), default=d.lr_schedule)
    ap.add_argument("--cnn-select", choices=("loss", "ua", "wa"), default=d.cnn_select,
                    help="the CNN's best epoch by validation loss (lowest) or accuracy (highest)")
    ap.add_argument("--nested", action="store_true",
                    help="also choose top-k by an inner CV inside each outer training fold (Table IV 'k nested' rows)")
    ap.add_argument("--inner-folds", type=int, default=d.inner_folds, help=f"inner folds of --nested ({d.inner_folds})")
    ap.add_argument("--no-tensorboard", action="store_true", help="per-epoch CSV logs only")
    ap.add_argument("--train-dataset", help="data set to train and cross-validate on (default: the one with the most "
                    "time points, then the most subjects)")
    ap.add_argument("--weights-dir", type=Path,
                    help="folder of torchvision ImageNet weights named <arch>.pth (default: train from scratch)")
    ap.add_argument("--au-engine", choices=("embedded", "openface"), default=d.au_engine)
    ap.add_argument("--infant-pain-labels", action="store_true",
                    help="declare the manifest's scores real infant pain labels (model cards say so)")
    ap.add_argument("--no-final-cnn", action="store_true", help="skip training the final CNN on all data")
    ap.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    ap.add_argument("--threads", type=int, help="torch threads per trained model (default: torch's default here); "
                                                "the serial run and --ray give identical results with the same number")
    ap.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                    help="train the CNNs (backbone x fold) and the top-k sweep as Ray tasks, one GPU each when the "
                         "cluster has GPUs (ADDRESS: auto or HOST:PORT of a running cluster; none: a local Ray "
                         "instance). Needs the cluster extra: pip install -e '.[cluster]'")
    ap.add_argument("--no-progress", action="store_true")
    return ap


def config_from_args(a: argparse.Namespace) -> RunConfig:
    cfg = RunConfig(manifest=a.manifest, out=a.out, cache=a.cache, folds=a.folds, seed=a.seed,
                    cnn_lr=a.cnn_lr, cnn_weight_decay=a.cnn_weight_decay, cnn_batch=a.cnn_batch,
                    engagement_arch=a.engagement_arch, reg_lr=a.reg_lr, reg_batch=a.reg_batch,
                    reg_dropout=a.reg_dropout, top_k=a.top_k, train_dataset=a.train_dataset,
                    weights_dir=a.weights_dir, au_engine=a.au_engine, infant_pain_labels=a.infant_pain_labels,
                    final_cnn=not a.no_final_cnn, device=a.device, quick=a.quick, progress=not a.no_progress,
                    val_frac=a.val_frac, augment=not a.no_augment, lr_schedule=a.lr_schedule,
                    cnn_select=a.cnn_select, nested=a.nested, inner_folds=a.inner_folds,
                    tensorboard=not a.no_tensorboard, threads=a.threads, ray=a.ray)
    if cfg.threads is not None and cfg.threads < 1:
        raise AuepaError(f"--threads {cfg.threads} must be 1 or more")
    if not 0 <= cfg.val_frac < 1:
        raise AuepaError(f"--val-frac {cfg.val_frac} must be in [0, 1)")
    if a.quick:
        for k, v in QUICK.items():
            setattr(cfg, k, v)
    if a.n_frames:
        cfg.n_frames = a.n_frames
    if a.archs:
        cfg.archs = tuple(s.strip() for s in a.archs.split(",") if s.strip())
    if a.cnn_epochs:
        cfg.cnn_epochs = a.cnn_epochs
    if a.reg_epochs:
        cfg.reg_epochs = a.reg_epochs
    from auepa_monitor.nets.pain_cnn import ARCHITECTURES

    bad = [x for x in cfg.archs if x not in ARCHITECTURES]
    if bad:
        raise AuepaError(f"unknown backbone(s) {', '.join(bad)}: choose from {', '.join(ARCHITECTURES)}")
    if cfg.engagement_arch not in cfg.archs:
        raise AuepaError(f"--engagement-arch {cfg.engagement_arch} must be one of the trained --archs "
                         f"({', '.join(cfg.archs)})")
    if cfg.weights_dir is not None and not Path(cfg.weights_dir).is_dir():
        raise AuepaError(f"--weights-dir {cfg.weights_dir} is not a folder")
    return cfg


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # torch beside mediapipe (DESIGN.md)
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
        pipe = Pipeline(cfg)
        try:
            path = pipe.run()
        finally:
            pipe.close()
    except AuepaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
