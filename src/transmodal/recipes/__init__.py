"""Recipes: one module per task — data, configuration, training and evaluation — runnable from the CLI."""
