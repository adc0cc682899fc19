#!/usr/bin/env bash
# Run the whole suite once per Keras backend (the backend is fixed per
# process). Extra arguments go to every pytest run.
set -u
cd "$(dirname "$0")/.."
status=0
for backend in tensorflow jax torch; do
  echo "=== KERAS_BACKEND=$backend ==="
  KERAS_BACKEND=$backend python -m pytest tests kerakit --doctest-modules \
    -p no:cacheprovider "$@"
  code=$?
  # Exit 5 means "no tests collected"; anything else non-zero is a failure.
  if [ "$code" -ne 0 ]; then status=$code; fi
done
exit $status
