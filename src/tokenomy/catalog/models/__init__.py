"""Built-in model shapes: one YAML per model, holding its Hugging Face config.json fields."""
