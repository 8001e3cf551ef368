"""Recipes: one module per task — data, configuration, training and evaluation — runnable from the CLI.

A recipe ``NAME`` is two modules: ``NAME_config.py`` holds its options as a dataclass (light: no torch
import, so ``transmodal --help`` stays fast) and ``NAME.py`` holds ``run(options) -> report``.
Register it here as name → (module, dataclass name, one-line description).
"""

RECIPES: dict[str, tuple[str, str, str]] = {
    "translation": ("transmodal.recipes.translation", "TranslationRecipe", "English→Portuguese Transformer on Tatoeba"),
    "bert-pretrain": ("transmodal.recipes.bert_pretrain", "BertPretrainRecipe", "BERT masked-LM pre-training on Machado de Assis"),
    "bert-finetune": ("transmodal.recipes.bert_finetune", "BertFinetuneRecipe", "fine-tune BERT on a corpus task, vs from scratch"),
    "gpt-pretrain": ("transmodal.recipes.gpt_pretrain", "GptPretrainRecipe", "GPT on Machado de Assis: perplexity, bits/char"),
    "fashion-vit": ("transmodal.recipes.fashion_vit", "FashionViTRecipe", "Vision Transformer on Fashion-MNIST"),
    "pixel-gpt": ("transmodal.recipes.pixel_gpt", "PixelGPTRecipe", "autoregressive pixel model on Fashion-MNIST"),
    "clip": ("transmodal.recipes.clip", "ClipRecipe", "CLIP: contrastive image–text training, zero-shot (--data scenes|fashion)"),
    "imagine": ("transmodal.recipes.mixed_decoder", "MixedDecoderRecipe", "one decoder over text and image tokens: caption → image, image edits"),
    "en-digits": ("transmodal.recipes.en_digits", "EnDigitsRecipe", "English spoken digits: Conformer-CTC on FSDD, speaker-held-out"),
    "pt-quiz": ("transmodal.recipes.pt_quiz", "PtQuizRecipe", "Brazilian-Portuguese questionnaire answers: speech-CTC on synthetic speech"),
    "gmu-digits": ("transmodal.recipes.gmu_digits", "GmuDigitsRecipe", "Gated Multimodal Units vs concat/sum/late fusion on noisy image + speech + text digits"),
}
