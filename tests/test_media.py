"""Media: the three crafts, their catalogs, pitches and finished sizes."""

from __future__ import annotations

import pytest

from craftpix.errors import InputError
from craftpix.media import MEDIA, MM_PER_INCH, Medium, get_medium
from craftpix.palette import available_palettes


def test_four_media():
    assert set(MEDIA) == {"beads", "bricks", "stitch", "diamond"}
    for name, medium in MEDIA.items():
        assert isinstance(medium, Medium)
        assert medium.name == name
        assert medium.title and medium.piece
        assert get_medium(name) is medium


def test_catalogs_exist_and_defaults():
    installed = set(available_palettes())
    for medium in MEDIA.values():
        assert medium.brands
        assert set(medium.brands) <= installed
        assert medium.default_brand == medium.brands[0]
    assert MEDIA["beads"].default_brand == "perler"
    assert set(MEDIA["beads"].brands) == {"perler", "hama", "artkal", "perler-mini", "hama-mini",
                                          "artkal-mini"}
    assert MEDIA["bricks"].brands == ("lego",)
    assert MEDIA["stitch"].brands == ("dmc",)


def test_pitches():
    assert MEDIA["beads"].pitch_mm == 5.0
    assert MEDIA["beads"].cell_mm() == 5.0
    assert MEDIA["bricks"].pitch_mm == 8.0
    assert MEDIA["bricks"].cell_mm() == 8.0
    stitch = MEDIA["stitch"]
    assert MM_PER_INCH == 25.4
    assert stitch.default_fabric_count == 14
    assert stitch.cell_mm() == pytest.approx(25.4 / 14)
    assert stitch.pitch_mm == pytest.approx(25.4 / 14)
    for count in (11, 14, 16, 18):
        assert stitch.cell_mm(count) == pytest.approx(25.4 / count)


def test_fabric_count_ignored_for_beads_and_bricks():
    assert MEDIA["beads"].cell_mm(18) == 5.0
    assert MEDIA["bricks"].cell_mm(11) == 8.0


def test_sections():
    assert MEDIA["beads"].default_section == 29
    assert MEDIA["bricks"].sections == (16, 32, 48)
    assert MEDIA["bricks"].default_section == 16
    assert MEDIA["stitch"].sections == ()
    assert MEDIA["stitch"].fabric_counts == (11, 14, 16, 18)
    assert MEDIA["beads"].pack_size == 1000


def test_finished_sizes():
    assert MEDIA["beads"].finished_size_mm(29, 58) == (145.0, 290.0)
    assert MEDIA["bricks"].finished_size_mm(48, 32) == (384.0, 256.0)
    w, h = MEDIA["stitch"].finished_size_mm(140, 70)
    assert (w, h) == (pytest.approx(254.0), pytest.approx(127.0))
    w, h = MEDIA["stitch"].finished_size_mm(110, 22, fabric_count=11)
    assert (w, h) == (pytest.approx(254.0), pytest.approx(50.8))
    w, h = MEDIA["stitch"].finished_size_mm(18, 36, 18)
    assert (w, h) == (pytest.approx(25.4), pytest.approx(50.8))


@pytest.mark.parametrize("count", [0, 12, 13, 22, -14, 14.5])
def test_bad_fabric_count(count):
    with pytest.raises(InputError, match=f"fabric count {count} is not one of 11, 14, 16, 18"):
        MEDIA["stitch"].cell_mm(count)
    with pytest.raises(InputError):
        MEDIA["stitch"].finished_size_mm(10, 10, count)


@pytest.mark.parametrize("name", ["knitting", "", "Beads", "bead"])
def test_get_medium_unknown(name):
    with pytest.raises(InputError, match="unknown medium") as info:
        get_medium(name)
    assert "beads, bricks, stitch" in str(info.value)


def test_media_are_frozen():
    with pytest.raises(AttributeError):
        MEDIA["beads"].pitch_mm = 4.0  # type: ignore[misc]
