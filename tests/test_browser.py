"""Lessons in a real browser: JupyterLab from the venv, headless Chromium (tests/browser.py).

A lesson is run top to bottom as a learner runs it (Run All Cells), a slider of its explore
widget is moved, and the widget's chart must be drawn again with no error output anywhere
on the page: lesson 2's partitions slider, lesson 6's outage, lesson 10's crash length.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import lab_page

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SLIDERS = {  # lesson -> (the slider moved: its index on the page, what it changes)
    "02_partitions_and_scaling.ipynb": (1, "partitions 6 -> 8"),
    "06_event_driven_vs_request_response.ipynb": (0, "inventory's outage 30 s -> 40 s"),
    "10_metastable_failures.ipynb": (0, "server-a's crash 10 s -> 12 s"),
}


@pytest.mark.parametrize("lesson", SLIDERS)
def test_a_lesson_runs_in_the_browser_and_its_slider_redraws_the_chart(lesson, tmp_path):
    slider, _change = SLIDERS[lesson]
    with lab_page(NOTEBOOKS / lesson, tmp_path) as page:
        page.run_all(timeout=180)
        assert not page.errors(), page.errors()
        before = page.images()
        assert before, "no chart was drawn"
        page.move_slider(index=slider, steps=2)
        after = page.wait_for_new_images(before, timeout=60)
        assert len(after) == len(before)  # the widget's chart replaced, not added
        assert not page.errors(), page.errors()
