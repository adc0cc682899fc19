#!/usr/bin/env bash
# Run the whole suite once per Keras backend (the backend is fixed per
# process). Extra arguments go to every pytest run.
#
# The three runs go side by side, each split over KERAKIT_WORKERS pytest-xdist
# workers (default 2): the work is mostly single-threaded (tiny models, XLA
# compiles, Python dispatch), and without the split the slowest backend's
# run (jax: its XLA compiles) kept one core busy alone long after the others
# finished. Tests that share a module-scoped fixture (exports, trained
# recipes) stay on one worker (`xdist_group` marks, `--dist loadgroup`).
# Each run's output goes to a log that is printed whole at the end.
# KERAKIT_SERIAL=1 runs the backends one after another; KERAKIT_WORKERS=0
# runs each backend in a single process.
set -u
cd "$(dirname "$0")/.."
logs=$(mktemp -d)

# The tests compile hundreds of tiny XLA programs (JAX) whose run time is
# negligible, so compile time is what counts: skipping LLVM's expensive
# passes cut it by a third, and the older elemental emitters (no fusion
# emitters) with one codegen thread by another third (DenseNet-121's train
# step: 46 s -> 31 s on this machine).
export XLA_FLAGS="${XLA_FLAGS:---xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true --xla_cpu_use_fusion_emitters=false --xla_cpu_parallel_codegen_split_count=1}"

workers=${KERAKIT_WORKERS:-2}
parallel=()
if [ "$workers" -gt 0 ]; then
  parallel=(-n "$workers" --dist loadgroup)
  # Six worker processes share the cores: one compute thread each, so that
  # no thread pool spins waiting for cores that other workers hold.
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
  export TF_NUM_INTRAOP_THREADS=${TF_NUM_INTRAOP_THREADS:-1}
  XLA_FLAGS="$XLA_FLAGS --xla_cpu_multi_thread_eigen=false"
fi

run_backend() {
  local backend=$1; shift
  KERAS_BACKEND=$backend python -m pytest tests kerakit --doctest-modules \
    -p no:cacheprovider "${parallel[@]}" "$@" > "$logs/$backend.log" 2>&1
  echo $? > "$logs/$backend.rc"
}

if [ "${KERAKIT_SERIAL:-0}" = 1 ]; then
  for backend in tensorflow jax torch; do run_backend "$backend" "$@"; done
else
  for backend in tensorflow jax torch; do run_backend "$backend" "$@" & done
  wait
fi

status=0
for backend in tensorflow jax torch; do
  echo "=== KERAS_BACKEND=$backend ==="
  cat "$logs/$backend.log"
  code=$(cat "$logs/$backend.rc" 2>/dev/null || echo 1)
  if [ "$code" -ne 0 ]; then
    echo "=== $backend: pytest exited with $code ==="
    status=1
  fi
done
rm -rf "$logs"
exit $status
