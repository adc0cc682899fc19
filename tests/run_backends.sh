#!/usr/bin/env bash
# Run the whole suite once per Keras backend (the backend is fixed per
# process). Extra arguments go to every pytest run.
#
# The three runs go side by side: each is mostly single-threaded (tiny
# models, XLA compiles, Python dispatch), so on a 2-core machine three
# processes keep both cores busy until the end. Each run's output goes to a
# log that is printed whole at the end. KERAKIT_SERIAL=1 runs the backends
# one after another instead.
set -u
cd "$(dirname "$0")/.."
logs=$(mktemp -d)

# The tests compile hundreds of tiny XLA programs (JAX) whose run time is
# negligible; skipping LLVM's expensive passes cuts compile time by a third.
export XLA_FLAGS="${XLA_FLAGS:---xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true}"

run_backend() {
  local backend=$1; shift
  KERAS_BACKEND=$backend python -m pytest tests kerakit --doctest-modules \
    -p no:cacheprovider "$@" > "$logs/$backend.log" 2>&1
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
