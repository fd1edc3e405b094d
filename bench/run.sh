#!/usr/bin/env bash
# bench/run.sh -- every benchmark, as `make bench` runs them. Each prints ratios against
# its reference on this machine; record results (with the machine) in BENCHMARKS.md.
# BENCH_ARGS is passed to each script (e.g. BENCH_ARGS=--quick for a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086
python3 bench/pit/run.py ${BENCH_ARGS:-}
python3 bench/scan/run.py
# The HTTP server against nginx and Redis, its start-up, and the 60 s load test
# (needs wrk, nginx, redis-server, redis-benchmark: `make bench` installs them).
# shellcheck disable=SC2086
python3 bench/serve/run.py ${BENCH_ARGS:-}
# The Redis online store: materialization vs `redis-cli --pipe` of the same HSETs, and
# serving vs redis-benchmark's HMGET of the same fields (needs redis-server, redis-cli,
# redis-benchmark, wrk).
# shellcheck disable=SC2086
python3 bench/redis/run.py ${BENCH_ARGS:-}
