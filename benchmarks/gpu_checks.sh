#!/usr/bin/env bash
# The GPU checks of the performance work (issue 13, item 4) in one run, for a machine with
# CUDA and PyTorch already installed (the library itself is taken from src/, not installed):
#
#   1. the CUDA-only tests (AMP fp16/bf16, torch.compile), which CI cannot run;
#   2. the dense VAE's epoch with the data resident on the GPU
#      (benchmarks/trainer_throughput.py --device cuda: eager, compile, bf16, CUDA graphs);
#   3. the face VAE on the GPU (benchmarks/face_vae_throughput.py --device cuda --part train:
#      fp32, channels_last, bf16, bf16 + compile, fp16 with its GradScaler).
#
# Each step has its own time limit, so one that hangs does not take the others with it, and
# its output goes to a log in the output folder ($OUT where set, else benchmarks/gpu-results).
# The limits add up to 570 s, under the 600 s one command may take on a lent GPU machine;
# name steps to run only those (two calls, if a step needs its whole limit). Usage:
#
#   bash benchmarks/gpu_checks.sh                      # all three
#   bash benchmarks/gpu_checks.sh gpu-tests dense-vae  # only these steps
#   bash benchmarks/gpu_checks.sh --dry-run [STEP...]  # print the commands only
#
# $PYTHON (default python3) is the interpreter, a path without spaces.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/gpu-results}"
python="${PYTHON:-python3}"
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

all_steps=(
  "gpu-tests|150|$python -m pytest -q -p no:cacheprovider tests/training/test_amp_compile.py"
  "dense-vae|180|$python benchmarks/trainer_throughput.py --device cuda --epochs 1 --rounds 3"
  "face-vae|240|$python benchmarks/face_vae_throughput.py --device cuda --part train --images 10000 --rounds 3"
)
steps=()
if [ "$#" = 0 ]; then
  steps=("${all_steps[@]}")
else
  for want in "$@"; do
    found=0
    for s in "${all_steps[@]}"; do
      if [ "${s%%|*}" = "$want" ]; then steps+=("$s"); found=1; fi
    done
    if [ "$found" = 0 ]; then
      echo "unknown step '$want'; the steps are: gpu-tests dense-vae face-vae" >&2
      exit 2
    fi
  done
fi

if [ "$dry" = 1 ]; then
  for s in "${steps[@]}"; do echo "${s##*|}"; done
  exit 0
fi
mkdir -p "$out"
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
torch.cuda.get_device_name() if torch.cuda.is_available() else 'NO CUDA DEVICE')" | tee "$out/device.txt"
failed=0
for s in "${steps[@]}"; do
  name="${s%%|*}"; rest="${s#*|}"; limit="${rest%%|*}"; cmd="${rest#*|}"
  echo "== $name (at most $limit s): $cmd"
  start=$SECONDS
  timeout -k 10 "$limit" $cmd 2>&1 | tee "$out/$name.txt"
  rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$out/$name.txt"
  [ "$rc" = 0 ] || failed=1
done
exit $failed
