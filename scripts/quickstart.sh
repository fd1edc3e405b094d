#!/usr/bin/env bash
# quickstart.sh -- the README's five-minute tour, run end to end by `make quickstart`.
#
# Copies examples/driver_ranking into a fresh temporary directory (the tree stays clean;
# any registry/online database in the copy is removed first), then drives the CLI through
# plan -> apply -> apply again (which must report that nothing changed) -> list views ->
# registry history -> registry dump. Then `larder init` makes the demo repository with
# generated Parquet data, applies it and builds a point-in-time correct training set with
# get-historical-features. Each command is echoed before it runs; the first failure stops
# the script with a non-zero status.
# Environment: LARDER (default build/larder), QUICKSTART_KEEP=1 keeps the temporary copy.
set -euo pipefail
cd "$(dirname "$0")/.."

larder=${LARDER:-build/larder}
example=examples/driver_ranking

if [ ! -x "$larder" ]; then
    echo "quickstart: $larder is not built; run 'make' first" >&2
    exit 1
fi
if [ ! -f "$example/feature_store.yaml" ]; then
    echo "quickstart: $example/feature_store.yaml not found" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/larder-quickstart.XXXXXX")
if [ "${QUICKSTART_KEEP:-0}" = 1 ]; then
    trap 'echo "quickstart: kept $tmp"' EXIT
else
    trap 'rm -rf "$tmp"' EXIT
fi
repo=$tmp/driver_ranking
cp -R "$example" "$repo"
rm -f "$repo"/data/registry.db* "$repo"/data/online.db*

# Echoes a command, then runs it; set -e stops at the first failure.
run() {
    echo "\$ $larder -c $repo $*"
    "$larder" -c "$repo" "$@"
    echo
}

run plan
run apply

echo "\$ $larder -c $repo apply    # again: nothing may change"
out=$("$larder" -c "$repo" apply)
printf '%s\n\n' "$out"
if ! grep -qiE 'nothing|no change|unchanged|up[ -]to[ -]date' <<<"$out"; then
    echo "quickstart: a second apply must report that nothing changed" >&2
    exit 1
fi

run feature-views list
run registry history
run registry-dump

# Part two: a demo repository with data, and training data from it.
demo=$tmp/demo
echo "\$ $larder init $demo"
"$larder" init "$demo"
echo
larder_abs=$(cd "$(dirname "$larder")" && pwd)/$(basename "$larder")
(
    cd "$demo"
    for args in "apply" "parquet schema data/driver_stats.parquet" \
        "get-historical-features --entities data/entities.parquet --feature-service driver_activity --output training.csv" \
        "materialize-incremental now" \
        "get-online-features --feature-service driver_activity --entity driver_id=1001 --entity driver_id=1002 --format table" \
        "get-online-features --features driver_hourly_stats:conv_rate --entity driver_id=1001 --entity driver_id=9999"; do
        echo "\$ cd $demo && larder $args"
        # shellcheck disable=SC2086
        "$larder_abs" $args
        echo
    done
    echo "\$ head -5 training.csv"
    head -5 training.csv
    echo
    # The HTTP server: start it on a free port, query it with curl, stop it (SIGTERM).
    echo "\$ cd $demo && larder serve --port 0 --port-file serve.port &"
    "$larder_abs" serve --port 0 --port-file serve.port --log-format plain 2>serve.log &
    pid=$!
    for _ in $(seq 100); do [ -s serve.port ] && break; sleep 0.1; done
    port=$(cat serve.port)
    body='{"feature_service": "driver_activity", "entities": {"driver_id": [1001, 1002]}}'
    echo "\$ curl -s localhost:$port/get-online-features -d '$body'"
    curl -sf "localhost:$port/get-online-features" -d "$body"
    echo
    echo "\$ curl -s localhost:$port/health"
    curl -sf "localhost:$port/health"
    echo
    echo "\$ kill -TERM %1 && wait    # drains, exits 0"
    kill -TERM "$pid"
    wait "$pid"
    echo
)
echo "quickstart: OK"
