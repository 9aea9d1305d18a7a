#!/usr/bin/env bash
# Start the development web server and a django-q2 cluster; Ctrl-C stops both.
set -euo pipefail
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

pids=()
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$PY" manage.py qcluster &
pids+=($!)
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)

echo
echo "  Proposals is running at http://$HOST:$PORT/"
echo "  Dashboard: http://$HOST:$PORT/app/   Admin: http://$HOST:$PORT/admin/"
echo "  Logins are printed above (demo@example.com for the dashboard, admin@example.com for the admin)."
echo "  Press Ctrl-C to stop."
echo
# Exit (and stop the other) as soon as either process dies.
wait -n
