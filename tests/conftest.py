import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def read_jsonl(name):
    return [json.loads(l) for l in (DATA / name).read_text().splitlines() if l.strip()]


@pytest.fixture(scope="session")
def e2e_rows():
    return read_jsonl("llama-3.1-8b.jsonl")


@pytest.fixture(scope="session")
def micro_rows():
    return read_jsonl("microbench.jsonl")
