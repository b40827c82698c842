#!/usr/bin/env bash
# The prepared device check of issue 20: one call on a lent GPU, so the device time goes to measuring.
#
#   run(command="bash scripts/gpu_check.sh", timeout_s=560)        # on the device machine
#   SMOKE=1 OUT=/tmp/gpu_smoke bash scripts/gpu_check.sh           # here, on CPU, before a lease
#
# Runs on the device's preinstalled stack (jax, flax, optax, orbax, numpy, scipy, statsmodels,
# matplotlib): no grain, tensorboardX, memelite, pyjaspar or logomaker is needed by these steps.
# Writes at most 8 files into $OUT (what the device tool brings back):
#   methods/   raw, attr, fis, dfim on the basic and deep models, ratios to raw, device + peak FLOP/s
#   fis_vs_loop.json   FIS as one batched call per chunk vs a per-source loop (same numbers)
#   training/  train-step throughput per architecture and length, GFLOP/s against a measured matmul
#   log.txt    the steps, their exit codes and seconds
# Each step has its own time limit, so one slow step cannot take the others' results with it.
set -u
OUT=${OUT:-gpu_check_out}
PY=${PY:-python3}
SMOKE=${SMOKE:-0}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ "$SMOKE" = 1 ]; then
  METHODS=(--tiny --archs basic --methods raw,attr,fis,dfim)
  FIS=(--n 2 --length 100 --filters 16 --steps 4 --repeats 1 --loop-repeats 1)
  TRAIN=(--tiny --archs basic)
  LIMITS=(300 120 300)
else
  METHODS=(--archs basic,deep --methods raw,attr,fis,dfim --sizes 1000 --cap fis=32,dfim=16
           --train-steps 200 --repeats 3 --length 200)
  FIS=(--n 32 --length 200 --filters 200 --steps 20)
  TRAIN=(--archs basic,bilstm,deep --train-lengths 300,1000)
  LIMITS=(240 90 150)
fi

step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "[gpu_check] $name: $*" | tee -a "$OUT/log.txt"
  timeout "$limit" "$@" >>"$OUT/log.txt" 2>&1
  local rc=$?
  echo "[gpu_check] $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$OUT/log.txt"
}

step devices 60 "$PY" -c "import jax; print(jax.__version__, jax.devices())"
step methods "${LIMITS[0]}" "$PY" -m bench --sections methods,device "${METHODS[@]}" --out "$OUT/methods" --no-plot
step fis_vs_loop "${LIMITS[1]}" "$PY" -m bench.fis_vs_loop "${FIS[@]}" --out "$OUT/fis_vs_loop.json"
step training "${LIMITS[2]}" "$PY" -m bench --sections training,device "${TRAIN[@]}" --out "$OUT/training" --no-plot
find "$OUT" -type f | sort | tee -a "$OUT/log.txt"
