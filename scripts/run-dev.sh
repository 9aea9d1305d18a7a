#!/usr/bin/env bash
# Start the local Wix stand-in, a local SMTP sink, a django-q2 cluster and the development
# web server, then install the demo business through the stand-in (a signed AppInstalled
# webhook). Ctrl-C stops everything.
set -euo pipefail
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
WIX_PORT=${WIX_PORT:-8765}
export EMAIL_HOST=${EMAIL_HOST:-127.0.0.1}
export EMAIL_PORT=${EMAIL_PORT:-1025}
DEMO_INSTANCE=${DEMO_INSTANCE:-demo-instance-0001}
export SITE_URL=${SITE_URL:-http://$HOST:$PORT}
export WIX_API_BASE_URL=${WIX_API_BASE_URL:-http://127.0.0.1:$WIX_PORT}

pids=()
qcluster=""
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$qcluster" ]; then
        # One TERM to the cluster's main process stops it cleanly (its workers finish or are
        # reaped); after 15 s the whole cluster is killed.
        kill -TERM "$qcluster" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$qcluster" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$qcluster" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$PY" manage.py wix_standin --port "$WIX_PORT" &
pids+=($!)
# A local mail sink that prints every email the worker sends (no mail leaves the machine).
"$PY" -m aiosmtpd -n -l "$EMAIL_HOST:$EMAIL_PORT" -c aiosmtpd.handlers.Debugging stdout &
pids+=($!)
# In its own session: Ctrl-C must reach only this script, which then stops the cluster with
# one TERM (django-q2 hangs when its workers get the terminal's SIGINT directly).
setsid "$PY" manage.py qcluster &
qcluster=$!
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)

for _ in $(seq 1 60); do
    if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://$HOST:$PORT/healthz', timeout=1)" 2>/dev/null; then
        break
    fi
    sleep 0.5
done
"$PY" manage.py wix_send_webhook AppInstalled --instance "$DEMO_INSTANCE" \
    --url "http://$HOST:$PORT/integrations/wix/webhooks/" \
    || echo "  (could not send the install webhook; the demo business still works)"

echo
echo "  Proposals is running at http://$HOST:$PORT/"
echo "  Dashboard: http://$HOST:$PORT/app/   Admin: http://$HOST:$PORT/admin/"
echo "  Demo login: demo@example.com / demo-proposals-2026 (admin: admin@example.com, same password)"
echo "  Wix stand-in: $WIX_API_BASE_URL (demo business installed through it)"
echo "  Emails are printed here by a local SMTP sink on $EMAIL_HOST:$EMAIL_PORT."
echo "  Press Ctrl-C to stop."
echo
# Exit (and stop the others) as soon as any process dies.
wait -n
