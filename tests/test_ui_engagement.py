"""The Grad-CAM AU engagement panel (issue 4, item 3), offscreen, with a real CNN checkpoint and video."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtGui import QColor  # noqa: E402

from auepa_monitor.core.au_regions import AU_REGION_NAMES  # noqa: E402
from auepa_monitor.ui.panels import ENGAGEMENT_AUS, EngagementBars, EngagementPanel  # noqa: E402

pytestmark = pytest.mark.gui
FRAME_BAR = QColor(239, 108, 0)  # EngagementBars' colour for this frame's bars


def bar_lengths(bars: EngagementBars) -> dict[int, int]:
    """Painted length in pixels of each Table I AU's this-frame bar, read from the rendered widget."""
    img = bars.grab().toImage()
    out = {}
    for i, au in enumerate(ENGAGEMENT_AUS):
        y = (i + 1) * bars.ROW + bars.ROW // 2
        out[au] = sum(1 for x in range(img.width() // 2) if img.pixelColor(x, y) == FRAME_BAR)
    return out


def test_without_cnn_the_panel_asks_for_a_checkpoint(make_window):
    win = make_window()
    names = [win.tabs.tabText(i) for i in range(win.tabs.count())]
    assert names[:2] == ["AU intensities", "AU engagement"]
    win.tabs.setCurrentWidget(win.engagement)
    panel = win.engagement
    assert panel.message.isVisible() and panel.message.text() == EngagementPanel.NO_CNN
    assert "Load an end-to-end CNN checkpoint (File menu)" in panel.message.text()
    assert not panel.bars.isVisible() and not panel.model.isVisible() and not panel.has_model
    assert set(ENGAGEMENT_AUS) == set(AU_REGION_NAMES) and len(ENGAGEMENT_AUS) == 12


@pytest.mark.slow
def test_engagement_bars_ranking_and_card(make_window, qtbot, faces_dir, cnn_checkpoint, tmp_path):
    win = make_window()
    win.resize(1024, 768)
    win.open_source(str(faces_dir / "default.wmv"))
    qtbot.waitUntil(lambda: win.current is not None and win.current.result.frame >= 5, timeout=20000)
    assert not win.engagement.bars.isVisibleTo(win.engagement) and win.engagement.message.isVisibleTo(win.engagement)
    assert win.load_cnn(str(cnn_checkpoint))
    panel = win.engagement
    assert win.tabs.currentWidget() is panel  # loading a CNN shows its engagement
    assert panel.model.text() == "CNN: square ResNet18 (test)"
    assert panel.warning.isVisible() and panel.warning.text() == "Not trained on infant pain data"
    assert "24 synthetic noise images" in panel.trained_on.text()
    assert not panel.message.isVisible() and panel.bars.isVisible()
    qtbot.waitUntil(lambda: win.explain.count >= 4, timeout=30000)
    win.pause()
    qtbot.wait(500)
    # The panel and win.explain.explanation are updated together on the UI thread: compare them now.
    ex = win.explain.explanation
    assert ex is not None and panel.frame_index == ex.frame_index
    assert panel.bars.frame == {a: pytest.approx(ex.engagement[a]) for a in ENGAGEMENT_AUS}
    assert max(panel.bars.frame.values()) == pytest.approx(1.0)
    ranked = [a for a, _ in panel.bars.ranking]
    assert sorted(ranked) == sorted(ENGAGEMENT_AUS)
    values = [v for _, v in panel.bars.ranking]
    assert values == sorted(values, reverse=True)
    assert values == [pytest.approx(ex.session_engagement[a]) for a in ranked]
    assert panel.bars.session_frames == ex.session_frames >= 4
    assert ex.predicted_class in panel.prediction.text()
    for cls in win.explain.explainer.classes:
        assert cls in panel.prediction.text()
    assert "not trained on infant pain" in win.heat_label.text()
    # What is painted: each bar's length in proportion to its value (the top AU's bar is full length).
    lengths = bar_lengths(panel.bars)
    full = max(lengths.values())
    assert full > 40
    for au in ENGAGEMENT_AUS:
        assert abs(lengths[au] - ex.engagement[au] * full) <= 2, (au, lengths, dict(ex.engagement))
    # Readable at 1024x768: the panel's column is wide enough and every tab title shows in full.
    assert panel.bars.width() >= 280
    bar = win.tabs.tabBar()
    for i in range(win.tabs.count()):
        assert bar.tabRect(i).width() >= bar.fontMetrics().horizontalAdvance(win.tabs.tabText(i))
    # The screenshot sidecar carries the same facts.
    _, _, side = win.save_screenshot(tmp_path / "eng.png")
    cnn = json.loads(side.read_text())["model"]["cnn"]
    assert cnn["warning"] == "Not trained on infant pain data" and cnn["trained_on_infant_pain"] is False
    assert cnn["engagement"] == {f"AU{a}": pytest.approx(v, abs=1e-4) for a, v in ex.engagement.items()}
    assert cnn["session_frames"] == ex.session_frames
