"""The shared figure style: colours and deterministic PNG / SVG / PDF saving."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from trialomics import style

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SVG = "{http://www.w3.org/2000/svg}"


def example_figure():
    """A figure with what makes SVG output vary: clip paths, markers, text, a rasterised layer."""
    rng = np.random.default_rng(7)
    fig, ax = style.new_figure(4.0, 3.0)
    ax.scatter(rng.normal(size=50), rng.normal(size=50), s=8, rasterized=True, label="rasterised")
    ax.plot([0, 1, 2], [0, 1, 0], marker="o", color=style.RESPONSE_COLOURS["PR"], label="line")
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 p-value")
    ax.set_title("example")
    ax.legend()
    return fig


def save_twice(tmp_path: Path, suffix: str) -> tuple[bytes, bytes]:
    first, second = tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"
    style.save_figure(example_figure(), first)
    style.save_figure(example_figure(), second)
    return first.read_bytes(), second.read_bytes()


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf"])
def test_two_saves_of_the_same_figure_are_byte_identical(tmp_path, suffix):
    first, second = save_twice(tmp_path, suffix)
    assert first == second


def test_one_figure_saved_to_two_paths_gives_identical_files(tmp_path):
    fig = example_figure()
    style.save_figure(fig, tmp_path / "a.svg", tmp_path / "b.svg", tmp_path / "a.png")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def constrained_figure():
    """Two panels laid out by the constrained engine, with the text that decides the layout's margins."""
    fig, axes = style.new_figure(6.0, 2.5, ncols=2, layout="constrained")
    for i, ax in enumerate(axes):
        ax.step([0, 1, 2, 3], [1.0, 0.8, 0.5, 0.4 - 0.1 * i], where="post", label=f"group {i}")
        ax.set_xlabel("Months")
        ax.set_ylabel("Survival probability")
        ax.set_title(f"panel {i}\nlog-rank p = 0.0{i + 1}")
        ax.legend(frameon=False, loc="lower left")
    fig.suptitle("a figure laid out once")
    return fig


@pytest.mark.parametrize("make_figure", [constrained_figure, example_figure])
def test_png_is_the_one_savefig_alone_writes(tmp_path, make_figure):
    # save_figure lays the figure out once for all its files; the PNG must not notice.
    style.save_figure(make_figure(), tmp_path / "once.png")
    fig = make_figure()
    with matplotlib.pyplot.rc_context(style.SAVE_RC_PARAMS):
        fig.savefig(tmp_path / "alone.png", metadata=style.UNDATED_METADATA["png"])
    assert (tmp_path / "once.png").read_bytes() == (tmp_path / "alone.png").read_bytes()


def test_a_figure_made_without_pyplot_is_saved_as_savefig_would(tmp_path):
    from matplotlib.figure import Figure

    style.pyplot()  # the house settings
    figures = [Figure(figsize=(3.0, 2.0), layout="constrained") for _ in range(2)]
    for fig in figures:
        fig.subplots().plot([0, 1], [1, 0])
    style.save_figure(figures[0], tmp_path / "saved.png")
    with matplotlib.pyplot.rc_context(style.SAVE_RC_PARAMS):
        figures[1].savefig(tmp_path / "alone.png", metadata=style.UNDATED_METADATA["png"])
    assert (tmp_path / "saved.png").read_bytes() == (tmp_path / "alone.png").read_bytes()


def test_svg_twin_covers_the_area_of_the_png(tmp_path):
    style.save_figure(constrained_figure(), tmp_path / "figure.png", tmp_path / "figure.svg")
    root = ET.fromstring((tmp_path / "figure.svg").read_text())
    svg_points = [float(root.get(side).removesuffix("pt")) for side in ("width", "height")]
    png_pixels = matplotlib.image.imread(tmp_path / "figure.png").shape[1::-1]
    dpi = style.RC_PARAMS["savefig.dpi"]
    for points, pixels in zip(svg_points, png_pixels):
        assert abs(points / 72 * dpi - pixels) < 1


def test_svg_is_deterministic_even_after_the_global_settings_were_reset(tmp_path):
    # Without the save-time hash salt, matplotlib would give clip paths random ids here.
    figures = [example_figure(), example_figure()]
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        style.save_figure(figures[0], tmp_path / "first.svg")
        style.save_figure(figures[1], tmp_path / "second.svg")
    assert (tmp_path / "first.svg").read_bytes() == (tmp_path / "second.svg").read_bytes()


def test_svg_from_two_processes_is_byte_identical(tmp_path):
    program = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
        "from test_style import example_figure; from trialomics import style;"
        "style.save_figure(example_figure(), sys.argv[3])"
    )
    outputs = []
    for name in ("first.svg", "second.svg"):
        path = tmp_path / name
        subprocess.run([sys.executable, "-c", program, str(SCRIPTS), str(Path(__file__).parent), str(path)],
                       check=True)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]


def test_svg_is_valid_xml_with_text_kept_as_text_and_no_date(tmp_path):
    style.save_figure(example_figure(), tmp_path / "figure.svg")
    text = (tmp_path / "figure.svg").read_text()
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    assert "log2 fold change" in "".join(root.itertext())
    assert "<dc:date>" not in text and "Matplotlib v" not in text


def test_save_figure_closes_the_figure_and_leaves_no_temporary_file(tmp_path):
    fig = example_figure()
    style.save_figure(fig, tmp_path / "plots" / "figure.png", tmp_path / "plots" / "figure.svg")
    assert not matplotlib.pyplot.fignum_exists(fig.number)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["figure.png", "figure.svg"]


def test_response_colours_cover_every_response_and_are_distinct():
    assert set(style.RESPONSE_ORDER) == set(style.RESPONSE_COLOURS)
    assert len(set(style.RESPONSE_COLOURS.values())) == len(style.RESPONSE_COLOURS)


def test_category_colours_do_not_depend_on_the_order_levels_come_in():
    assert style.category_colours(["b", "a", "c"]) == style.category_colours(["c", "b", "a", "a"])
