"""A lesson in a real browser: JupyterLab from the venv, headless Chromium (tests/browser.py).

Lesson 2 is run top to bottom as a learner runs it (Run All Cells), its explore widget's
partitions slider is moved, and the widget's chart must be drawn again with no
error output anywhere on the page.
"""

from __future__ import annotations

from pathlib import Path

from browser import lab_page

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "02_partitions_and_scaling.ipynb"


def test_lesson_2_runs_in_the_browser_and_its_slider_redraws_the_chart(tmp_path):
    with lab_page(LESSON, tmp_path) as page:
        page.run_all(timeout=180)
        assert not page.errors(), page.errors()
        before = page.images()
        assert before, "no chart was drawn"
        page.move_slider(index=1, steps=2)  # partitions 6 -> 8
        after = page.wait_for_new_images(before, timeout=60)
        assert len(after) == len(before)  # the widget's chart replaced, not added
        assert not page.errors(), page.errors()
