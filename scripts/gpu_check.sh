#!/usr/bin/env bash
# The one prepared GPU check of `tokenomy calibrate` and `tokenomy validate` (about 3-5 minutes on
# an H100; the calibrate step is capped at 7 minutes).
#
#   OUT=some/dir bash scripts/gpu_check.sh [extra calibrate flags, e.g. --quick]
#
# Writes to $OUT (default ./gpu_out):
#   profile.json            calibrated profile + device + raw rows     (tokenomy calibrate)
#   profile.jsonl           the raw rows alone
#   validate.json           the calibrated profile against its own rows (MAPE per kind, every row)
#   validate_shipped.json   the shipped torch-eager profile against the new rows
#   validate.png            plots of the first
#   check.log               everything printed, including the MAPE tables
#
# Install: with a network, `pip install -e .[gpu]`. The lent GPU machines have no network but
# have torch and nvidia-ml-py; pydantic and its needs travel as wheels in .whl/ (carry: [".whl"]),
# and the source tree is used through PYTHONPATH.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
exec > >(tee "$OUT/check.log") 2>&1

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
if $PY -c "import numpy, pydantic, yaml, typer, rich" 2>/dev/null; then
  export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}     # no pip needed (and no network asked for)
else
  $PY -m pip install -q -e ".[gpu]" || { echo "install failed: carry pydantic wheels in .whl/"; exit 1; }
fi
TOK=($PY -c 'import sys; from tokenomy.cli.main import main; sys.argv[0] = "tokenomy"; main()')

DEVICE=${DEVICE:-cuda}    # DEVICE=cpu runs the same script on a CPU (with --quick: a dry run of the script)
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" || exit 1
$PY -c "import pynvml" 2>/dev/null || echo "note: pynvml (nvidia-ml-py) missing: no energy rows"
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm,memory.total --format=csv || true

echo "== calibrate"
SECONDS=0
timeout 420 "${TOK[@]}" calibrate --device "$DEVICE" --out "$OUT/profile.json" "$@" || { echo "calibrate failed ($?)"; exit 1; }
echo "calibrate took ${SECONDS}s"

echo "== validate: calibrated profile vs its own measurements"
"${TOK[@]}" validate --measurements "$OUT/profile.jsonl" --profile "$OUT/profile.json" --json > "$OUT/validate.json"
"${TOK[@]}" validate --measurements "$OUT/profile.jsonl" --profile "$OUT/profile.json" --summary --plot "$OUT/validate.png"

echo "== validate: shipped torch-eager vs the new measurements"
HW=()   # a device outside the catalog: the spec calibrate measured
[ -f "$OUT/profile.hardware.yaml" ] && HW=(--hardware "$OUT/profile.hardware.yaml")
"${TOK[@]}" validate --measurements "$OUT/profile.jsonl" --profile torch-eager "${HW[@]}" --json > "$OUT/validate_shipped.json"
"${TOK[@]}" validate --measurements "$OUT/profile.jsonl" --profile torch-eager "${HW[@]}" --summary

echo "== validate: calibrated profile vs the shared H100 rows (tests/data)"
"${TOK[@]}" validate --measurements tests/data/microbench.jsonl --measurements tests/data/llama-3.1-8b.jsonl \
  --profile "$OUT/profile.json" --hardware h100-sxm --summary || true
echo "done in ${SECONDS}s"
