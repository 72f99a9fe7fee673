#!/usr/bin/env bash
# Wall time of a default `eagergraph run` with Prefect's temporary per-run server (--ephemeral) beside the same run
# reusing the local server, in one sitting. A fresh PREFECT_HOME keeps your own server and runs out of it; the
# local server is started once (not timed), and stopped at the end.
#   benchmarks/server_reuse.sh [repeats]        (from the project folder, after `make install`)
set -euo pipefail
cd "$(dirname "$0")/.."
EAGERGRAPH="${EAGERGRAPH:-$PWD/.venv/bin/eagergraph}"
REPEATS="${1:-2}"
WORK="$(mktemp -d)"
export PREFECT_HOME="$WORK/prefect-home"
unset PREFECT_API_URL
trap '"$EAGERGRAPH" server stop >/dev/null; rm -rf "$WORK"' EXIT

seconds() {  # wall seconds of one run, its output discarded
  local start end
  start=$(date +%s.%N)
  "$EAGERGRAPH" run --artifacts "$WORK/artifacts" "$@" >"$WORK/last.log" 2>&1 || { tail -5 "$WORK/last.log"; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

"$EAGERGRAPH" server start --background >/dev/null  # first use, not timed: what a first `eagergraph run` does
echo "run  temporary-server  reused-local-server"
for i in $(seq "$REPEATS"); do
  echo "$i  $(seconds --ephemeral)  $(seconds)"
done
