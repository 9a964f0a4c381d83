"""Per-craft prompt templates."""

from __future__ import annotations

import pytest

from craftpix.engines.sds.prompts import TEMPLATES_DIR, build_prompts, load_template
from craftpix.errors import InputError
from craftpix.media import MEDIA


@pytest.mark.parametrize("medium", sorted(MEDIA))
def test_every_medium_has_a_template(medium) -> None:
    tpl = load_template(medium)
    assert tpl.source == TEMPLATES_DIR / f"{medium}.toml"
    assert "{prompt}" in tpl.prompt and tpl.negative
    text, negative = build_prompts("a red rose", medium=medium)
    assert "a red rose" in text and "{prompt}" not in text and negative == tpl.negative


def test_raw_prompt_and_negative_override() -> None:
    text, negative = build_prompts("  exactly this ", medium="beads", raw=True)
    assert text == "exactly this" and negative == load_template("beads").negative
    text, negative = build_prompts("rose", medium="stitch", negative="blurry")
    assert negative == "blurry" and "rose" in text
    assert build_prompts("rose", medium="beads", raw=True, negative="")[1] == ""


def test_user_template(tmp_path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('prompt = "mosaic: {prompt}!"\nnegative = "ugly"\n')
    assert build_prompts("cat", medium="beads", template=path) == ("mosaic: cat!", "ugly")


@pytest.mark.parametrize("content, match", [
    ('negative = "x"\n', "needs a text key"),
    ('prompt = "no placeholder"\n', r"\{prompt\}"),
    ('prompt = "{prompt}"\nnegative = 3\n', "text string"),
    ('prompt = "unterminated\n', "not valid TOML"),
])
def test_bad_templates_are_one_line_errors(tmp_path, content, match) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(InputError, match=match):
        build_prompts("cat", medium="beads", template=path)


def test_missing_template_and_empty_prompt(tmp_path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        build_prompts("cat", medium="beads", template=tmp_path / "nope.toml")
    with pytest.raises(InputError, match="empty"):
        build_prompts("  ", medium="beads")


def test_long_prompts_lose_template_words_before_the_subject() -> None:
    from craftpix.engines.sds.prompts import fit_prompt

    def words(text: str) -> int:  # a stand-in tokenizer: one token per word, plus start/end
        return len(text.replace(",", " ").split()) + 2

    text = "fuse bead art of a big red rose, perler beads, pixel art, flat colors"
    assert fit_prompt(text, "a big red rose", words, 77) == (text, [])
    fitted, dropped = fit_prompt(text, "a big red rose", words, 12)
    assert fitted == "fuse bead art of a big red rose, perler beads"
    assert dropped == ["pixel art", "flat colors"]
    # The subject's phrase stays even when nothing else fits.
    fitted, dropped = fit_prompt(text, "a big red rose", words, 5)
    assert fitted == "fuse bead art of a big red rose" and len(dropped) == 3
    # A subject in the middle of the template: phrases on both sides may go, never it.
    text = "pixel art, a big red rose, flat colors"
    assert fit_prompt(text, "a big red rose", words, 7) == ("a big red rose",
                                                       ["pixel art", "flat colors"])


def test_a_subject_with_commas_is_kept_whole() -> None:
    """The subject is found by its place in the filled template, not as one phrase: a user's
    "a red rose, green stem" loses nothing while template words remain."""
    from craftpix.engines.sds.prompts import PromptTemplate, fit_prompt

    def words(text: str) -> int:
        return len(text.replace(",", " ").split()) + 2

    tpl = PromptTemplate("pixel art, flat colors, bold shapes, {prompt}, plain background")
    subject = "a red rose, green stem"
    fitted, dropped = fit_prompt(tpl.fill(subject), subject, words, 12)
    assert fitted == "pixel art, flat colors, a red rose, green stem"
    assert dropped == ["bold shapes", "plain background"]
    fitted, dropped = fit_prompt(tpl.fill(subject), subject, words, 3)
    assert fitted == "a red rose, green stem"  # too long even alone: the encoder cuts it
    # words glued to the placeholder stay with the subject
    tpl = PromptTemplate("fuse bead art of {prompt} pattern, perler beads, flat colors")
    fitted, dropped = fit_prompt(tpl.fill(subject), subject, words, 12)
    assert fitted == "fuse bead art of a red rose, green stem pattern"


def test_the_user_is_told_what_the_encoder_cuts(capsys) -> None:
    from craftpix.engines.sds.run import _fit_to_encoder

    try:
        from tiny_models import tiny_tokenizer
    except ImportError:  # tests/ imported as a package
        from tests.tiny_models import tiny_tokenizer

    tok = tiny_tokenizer()  # one token per character
    long = "x" * (tok.model_max_length + 5)
    assert _fit_to_encoder("a rose", "a rose", long, tok, raw=False) == "a rose"
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: the negative prompt is longer than the model's "
                   f"{tok.model_max_length} tokens: its end is cut off; shorten "
                   "--negative-prompt or the template's"]
    assert _fit_to_encoder(long, long, "", tok, raw=True) == long  # raw: cut by the encoder
    err = capsys.readouterr().err
    assert "the prompt is longer than" in err and "its end is cut off" in err
