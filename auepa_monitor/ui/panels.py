"""Side panels: AU intensity bars, the pain score with its model card facts, Grad-CAM engagement, the alert banner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core.alerts import Priority
from ..core.au_regions import AU_REGION_NAMES
from ..core.engagement import rank
from ..core.records import REASON_TEXT, REPORTED_AUS, FrameResult, PainScale
from .overlay import LEVEL_COLORS

AU_NAMES = {1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 6: "cheek raiser",
            7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser", 12: "lip corner puller",
            20: "lip stretcher", 25: "lips part", 26: "jaw drop", 27: "mouth stretch", 43: "eye closure",
            45: "blink"}


#: The pain panel's prompt while several faces are in view and none was chosen.
_CHOOSE = "Several faces in view: click the infant's face to monitor it."
#: Added to it while the face followed looks like an adult's (``FrameResult.target_looks``).
_LOOKS_ADULT = " The face followed looks like an adult's (its proportions)."
_OTHER_PERSON = ("The face followed now is another person than before (found again after it was lost): "
                 "click the infant's face to monitor it.")


class AUPanel(QWidget):
    """Horizontal bars of AU intensities (0-5); core AUs marked with their engagement weight."""

    ROW = 19

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.au: Mapping[int, float] = {}
        self.core: dict[int, float] = {}
        self.setMinimumHeight(self.ROW * (len(REPORTED_AUS) + 1) + 6)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setToolTip("AU intensity 0-5 (FACS). * = core AU of the pain model, w = its engagement weight.")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(300, self.minimumHeight())

    def set_core(self, core_aus: Sequence[int], engagement: Sequence[float]) -> None:
        self.core = {int(a): float(w) for a, w in zip(core_aus, engagement, strict=False)}
        self.update()

    def set_values(self, au: Mapping[int, float]) -> None:
        self.au = au
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        f = QFont()
        f.setPixelSize(12)
        p.setFont(f)
        fm = p.fontMetrics()
        label_w = fm.horizontalAdvance("AU27 * w0.00") + 8
        value_w = fm.horizontalAdvance("5.0") + 8
        bar_x = label_w
        bar_w = max(20, self.width() - label_w - value_w - 4)
        p.setPen(QColor(150, 150, 150))
        p.drawText(QRectF(0, 0, self.width(), self.ROW), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   "AU intensity (0-5)   * core AU, w = engagement")
        for i, au in enumerate(REPORTED_AUS):
            y = (i + 1) * self.ROW
            core = au in self.core
            p.setPen(QColor(255, 214, 0) if core else QColor(210, 210, 210))
            label = f"AU{au}" + (f" * w{self.core[au]:.2f}" if core else "")
            p.drawText(QRectF(0, y, label_w, self.ROW), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       label)
            p.fillRect(QRectF(bar_x, y + 4, bar_w, self.ROW - 8), QColor(55, 55, 55))
            v = self.au.get(au)
            if v is not None:
                frac = max(0.0, min(1.0, float(v) / 5.0))
                p.fillRect(QRectF(bar_x, y + 4, bar_w * frac, self.ROW - 8),
                           QColor(255, 179, 0) if core else QColor(100, 181, 246))
            p.setPen(QColor(230, 230, 230))
            p.drawText(QRectF(bar_x + bar_w + 4, y, value_w, self.ROW),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "-" if v is None else f"{v:.1f}")
        p.end()


class PainPanel(QFrame):
    """The pain score 0-10 and its level in colour, PSPI beside it, the model and its card facts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(2)
        self.score = QLabel("--")
        f = QFont()
        f.setPointSize(26)
        f.setBold(True)
        self.score.setFont(f)
        self.level = QLabel("no face")
        fl = QFont()
        fl.setPointSize(13)
        fl.setBold(True)
        self.level.setFont(fl)
        self.pspi = QLabel("PSPI --")
        self.fit = QLabel("Fit quality --")
        self.fit.setToolTip("How well the face tracker fits the target face (0-1). Frames below "
                            "0.5 are tracked but not scored: turned, covered or unsure faces.")
        self.prompt = QLabel(_CHOOSE)
        self.prompt.setWordWrap(True)
        self.prompt.setStyleSheet("color: #4fc3f7; font-weight: bold;")
        self.prompt.setVisible(False)
        self.model = QLabel("")
        self.model.setWordWrap(True)
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #ffb74d; font-weight: bold;")
        self.facts = QLabel("")
        self.facts.setWordWrap(True)
        self.facts.setStyleSheet("color: #b0b0b0;")
        title = QLabel("Pain score (0-10)")
        title.setStyleSheet("color: #b0b0b0;")
        for w in (title, self.score, self.level, self.pspi, self.fit, self.prompt, self.model, self.warning,
                  self.facts):
            lay.addWidget(w)

    def set_card(self, name: str, warning: str, facts: str) -> None:
        self.model.setText(f"Model: {name}")
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))
        self.facts.setText(facts)

    def set_result(self, r: FrameResult | None, choose_prompt: bool = False, scale: PainScale | None = None,
                   other_person: bool = False) -> None:
        """Show one frame's score; a frame that was not scored shows why, greyed out.

        ``choose_prompt``: several faces are in view and the user has not chosen one.
        ``scale``: where the levels start (the alarms' scale); None: the record's own level.
        ``other_person``: since the last choice the tracker found that the face it follows is
        someone else (a ``person_changed`` row): asks for a click until the user chooses again.
        """
        self.prompt.setVisible(choose_prompt or other_person)
        adult = _LOOKS_ADULT if r is not None and r.target_looks == "adult" else ""
        if other_person:
            self.prompt.setText(_OTHER_PERSON + adult)
        elif choose_prompt:
            # face_id counts the people the target was (automatic moves, faces found again that were
            # someone else, and the user's own choices), after the first.
            moved = r.face_id if r is not None else 0
            self.prompt.setText(_CHOOSE + (f" The face followed has changed to another person "
                                           f"{'once' if moved == 1 else f'{moved} times'}."
                                           if moved else "") + adult)
        if r is not None and r.face is not None:
            self.fit.setText(f"Fit quality {r.face.quality:.2f} (0-1)")
            self.fit.setStyleSheet("" if r.success else "color: #9e9e9e;")
        else:
            self.fit.setText("Fit quality --")
            self.fit.setStyleSheet("color: #9e9e9e;")
        if r is None or r.pain_score is None:
            self.score.setText("--")
            self.score.setStyleSheet("color: #9e9e9e;")
            why = REASON_TEXT.get(r.reason or "no_face", r.reason) if r is not None else ""
            self.level.setText(f"not scored: {why}" if r is not None and r.face is not None else why)
            self.level.setStyleSheet("color: #9e9e9e;")
            self.pspi.setText("PSPI --")
            return
        level = scale.level(r.pain_score) if scale is not None else r.pain_level
        col = LEVEL_COLORS[int(level)]
        self.score.setText(f"{r.pain_score:.1f}")
        self.score.setStyleSheet(f"color: {col};")
        self.level.setText(level.label)
        self.level.setStyleSheet(f"color: {col};")
        self.pspi.setText(f"PSPI {r.pspi:.1f} (0-16)")


class AlertBanner(QLabel):
    """The active alarm in its priority colour; a high-priority alarm flashes (about 2 Hz)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setMinimumHeight(38)
        f = QFont()
        f.setPointSize(12)
        f.setBold(True)
        self.setFont(f)
        self.priority = Priority.NONE
        self._on = True
        self._timer = QTimer(self)
        self._timer.setInterval(250)  # IEC 60601-1-8 high priority: 1.4-2.8 Hz flashing
        self._timer.timeout.connect(self._blink)
        self.set_alarm(Priority.NONE, "")

    def set_alarm(self, priority: Priority, message: str, acknowledged: bool = False) -> None:
        changed = priority != self.priority
        self.priority = priority
        text = message or "No active alarm"
        if acknowledged and priority != Priority.NONE:
            text += "  (acknowledged)"
        self.setText(text)
        if changed:
            self._on = True
            if priority == Priority.HIGH:
                self._timer.start()
            else:
                self._timer.stop()
        self._style()

    def _blink(self) -> None:
        self._on = not self._on
        self._style()

    def _style(self) -> None:
        if self.priority == Priority.NONE:
            self.setStyleSheet("background: #263238; color: #90a4ae; border-radius: 4px; padding: 4px;")
            return
        bg = self.priority.color if self._on else "#3a0d0d"
        fg = "#ffffff" if self.priority == Priority.HIGH else "#000000"
        if not self._on:
            fg = "#ffffff"
        self.setStyleSheet(f"background: {bg}; color: {fg}; border-radius: 4px; padding: 4px;")


#: The AUs with a Table I region, in Table I order: the ones Grad-CAM engagement is measured on.
ENGAGEMENT_AUS: tuple[int, ...] = tuple(AU_REGION_NAMES)


class EngagementBars(QWidget):
    """Two columns of bars, values 0-1: this frame's AU engagement (Table I order) and the session ranking.

    ``frame`` is AU -> engagement of the latest explained frame (Eq. 2, N = 1, top AU = 1);
    ``ranking`` is (AU, running engagement) highest first, over ``session_frames`` frames.
    """

    ROW = 19

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame: dict[int, float] = {}
        self.ranking: list[tuple[int, float]] = []
        self.session_frames = 0
        self.setMinimumHeight(self.ROW * (len(ENGAGEMENT_AUS) + 1) + 6)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setToolTip("Grad-CAM engagement (paper, Eq. 2): mean CAM in each AU's 10x10 region of the aligned "
                        "face, scaled so the top AU is 1.\nLeft: the latest explained frame. Right: AUs ranked by "
                        "the running engagement over every frame explained in this session (no ground truth: "
                        "all frames count, not only correctly classified ones).")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(300, self.minimumHeight())

    def set_values(self, frame: Mapping[int, float], ranking: Sequence[tuple[int, float]], session_frames: int) -> None:
        self.frame = {int(a): float(v) for a, v in frame.items()}
        self.ranking = [(int(a), float(v)) for a, v in ranking]
        self.session_frames = int(session_frames)
        self.update()

    def _column(self, p: QPainter, x: float, w: float, rows: Sequence[tuple[str, float | None]],
                color: QColor) -> None:
        fm = p.fontMetrics()
        label_w = fm.horizontalAdvance("#12 AU43") + 6
        value_w = fm.horizontalAdvance("0.00") + 6
        bar_w = max(10.0, w - label_w - value_w - 2)
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        for i, (label, v) in enumerate(rows):
            y = (i + 1) * self.ROW
            p.setPen(QColor(215, 215, 215))
            p.drawText(QRectF(x, y, label_w, self.ROW), left, label)
            p.fillRect(QRectF(x + label_w, y + 4, bar_w, self.ROW - 8), QColor(55, 55, 55))
            if v is not None:
                p.fillRect(QRectF(x + label_w, y + 4, bar_w * max(0.0, min(1.0, v)), self.ROW - 8), color)
            p.setPen(QColor(230, 230, 230))
            p.drawText(QRectF(x + label_w + bar_w + 2, y, value_w, self.ROW), left, "-" if v is None else f"{v:.2f}")

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        f = QFont()
        f.setPixelSize(12)
        p.setFont(f)
        gap = 10
        col_w = (self.width() - gap) / 2
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        p.setPen(QColor(150, 150, 150))
        fm = p.fontMetrics()
        for x, text in ((0.0, "This frame (0-1)"), (col_w + gap, f"Session, {self.session_frames} frames")):
            p.drawText(QRectF(x, 0, col_w, self.ROW), left, fm.elidedText(text, Qt.TextElideMode.ElideRight, int(col_w)))
        self._column(p, 0, col_w, [(f"AU{a}", self.frame.get(a)) for a in ENGAGEMENT_AUS], QColor(239, 108, 0))
        self._column(p, col_w + gap, col_w, [(f"#{i + 1} AU{a}", v) for i, (a, v) in enumerate(self.ranking)],
                     QColor(171, 71, 188))
        p.end()


class EngagementPanel(QFrame):
    """Grad-CAM AU engagement of the loaded end-to-end CNN, with the CNN's card facts and prediction.

    Without a CNN it says how to load one and shows no bars. The card's warning (e.g. "Not
    trained on infant pain data") is shown whenever the model is.
    """

    NO_CNN = "Load an end-to-end CNN checkpoint (File menu) to see Grad-CAM engagement"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        self.message = QLabel(self.NO_CNN)
        self.message.setWordWrap(True)
        self.model = QLabel("")
        self.model.setWordWrap(True)
        self.model.setStyleSheet("font-weight: bold;")
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #ffb74d; font-weight: bold;")
        self.trained_on = QLabel("")
        self.trained_on.setWordWrap(True)
        self.trained_on.setStyleSheet("color: #b0b0b0;")
        self.prediction = QLabel("")
        self.prediction.setWordWrap(True)
        self.bars = EngagementBars()
        for w in (self.message, self.model, self.warning, self.trained_on, self.prediction, self.bars):
            lay.addWidget(w)
        lay.addStretch(1)
        self.classes: tuple[str, ...] = ()
        self.frame_index: int | None = None
        self.clear_model()

    @property
    def has_model(self) -> bool:
        return bool(self.model.text())

    def clear_model(self) -> None:
        """No CNN loaded: the load message only."""
        self.classes = ()
        self.model.setText("")
        self.warning.setText("")
        self.trained_on.setText("")
        for w in (self.model, self.warning, self.trained_on, self.prediction, self.bars):
            w.setVisible(False)
        self.message.setText(self.NO_CNN)
        self.message.setVisible(True)
        self.reset()

    def set_model(self, name: str, warning: str, training_data: str, classes: Sequence[str],
                  details: str = "") -> None:
        """Show a loaded CNN's card facts; the bars wait for its first explanation."""
        self.classes = tuple(classes)
        self.model.setText(f"CNN: {name}")
        self.warning.setText(warning)
        short = training_data if len(training_data) <= 120 else training_data[:117].rstrip() + "…"
        self.trained_on.setText(f"Trained on: {short}")
        self.trained_on.setToolTip(f"Trained on: {training_data}" + (f"\n{details}" if details else ""))
        self.model.setVisible(True)
        self.warning.setVisible(bool(warning))
        self.trained_on.setVisible(True)
        self.prediction.setVisible(True)
        self.bars.setVisible(True)
        self.message.setVisible(False)
        self.reset()

    def reset(self) -> None:
        """New source or model: no explanation yet."""
        self.frame_index = None
        self.prediction.setText("Waiting for the first Grad-CAM frame…" if self.classes else "")
        self.bars.set_values({}, [], 0)

    def set_explanation(self, frame_index: int, predicted: str, probs: Sequence[float],
                        engagement: Mapping[int, float], session: Mapping[int, float], session_frames: int) -> None:
        """One explanation: prediction with class probabilities (0-1), engagement bars, session ranking."""
        self.frame_index = int(frame_index)
        probs_txt = " · ".join(f"{c} {float(pr):.2f}" for c, pr in zip(self.classes, probs, strict=False))
        self.prediction.setText(f"Frame {frame_index}: predicted <b>{predicted}</b><br>"
                                f"<span style='color:#b0b0b0'>p: {probs_txt}</span>")
        self.bars.set_values(engagement, rank(session), session_frames)
