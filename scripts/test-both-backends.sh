#!/usr/bin/env bash
# The whole suite on SQLite and on PostgreSQL at the same time. Each run is one process, so on
# two cores this takes about as long as the slower run alone, half of one after the other.
# The PostgreSQL run's output (it starts a throwaway cluster of its own) is shown when both
# are done; the script fails if either run fails (any non-zero pytest status, 5 included).
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
.venv/bin/python -m pytest -q --backend=postgresql -p no:cacheprovider >"$log" 2>&1 &
postgresql_pid=$!
trap 'kill "$postgresql_pid" 2>/dev/null; rm -f "$log"' EXIT
echo "== SQLite (PostgreSQL runs alongside; its output follows)"
.venv/bin/python -m pytest -q --backend=sqlite
sqlite=$?
wait "$postgresql_pid"
postgresql=$?
echo "== PostgreSQL"
cat "$log"
echo "sqlite: exit $sqlite; postgresql: exit $postgresql"
[ "$sqlite" -eq 0 ] && [ "$postgresql" -eq 0 ]
