"""Bad input to the multimodal commands (shipped models) fails with exit status 2 and a message naming the problem."""

import pytest

import transmodal.cli as cli


@pytest.fixture
def not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    return str(path)


@pytest.mark.parametrize("argv, expected", [
    (["zero-shot", "{bad}", "--labels", "a,b"], "not an image file"),
    (["zero-shot", "{bad}", "--labels", "a,,b"], "empty label"),
    (["imagine", "a purple elephant", "--out", "{out}"], "unknown word(s) ['purple', 'elephant']"),
    (["edit", "{bad}", "mirror it", "--out", "{out}"], "not an image file"),
])
def test_bad_input_fails_clearly(argv, expected, not_an_image, tmp_path, capsys):
    argv = [a.format(bad=not_an_image, out=tmp_path / "out.png") for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()
