"""The shipped ``imagine`` model: loads by name, knows the recipe's words, draws and edits whole pictures."""

import pytest
import torch

from transmodal.hub import ASSETS

pytestmark = pytest.mark.skipif(not (ASSETS / "imagine" / "config.json").is_file(), reason="the imagine model is not shipped")


def test_shipped_model_draws_and_edits():
    from transmodal.commands.imagine import load_decoder
    from transmodal.models.mixed_decoder import draw_images
    from transmodal.recipes.mixed_decoder import INSTRUCTIONS, caption, vocabulary

    model = load_decoder(None)  # the default name
    assert model.config.words == vocabulary() and model.n_image == 49
    assert float(model.codebook.min()) >= -0.05 and float(model.codebook.max()) <= 1.05 and model.codebook.std() > 0.05
    prompt = torch.tensor([model.caption_prompt(caption(9, "dark"))] * 2)
    codes = draw_images(model, prompt, generator=torch.Generator().manual_seed(0))
    images = model.decode_codes(codes)
    assert images.shape == (2, 1, 28, 28) and 0.02 < float(images.mean()) < 0.9  # something was drawn
    edited = draw_images(model, model.edit_prompt(codes, INSTRUCTIONS[2]), temperature=0.0)
    assert edited.shape == (2, 49)
