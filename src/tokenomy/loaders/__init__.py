"""The only modules that read files: catalog YAML, config.json, JSONL. They validate and convert to SI."""
