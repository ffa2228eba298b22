#!/usr/bin/env bash
# OpenAPI-driven fuzz run of the HTTP API: installs schemathesis (pinned, tools/fuzz/requirements.txt)
# into tools/fuzz/.venv, starts the embedded server on 127.0.0.1 with a throw-away data dir,
# seeds it with the example data, and lets schemathesis generate requests from /openapi.json.
# Fails on any 5xx and on any response that violates the document (status, content type, schema).
# Usage: bash tools/fuzz/run.sh [max examples per operation, default 40]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
examples="${1:-40}"
venv=tools/fuzz/.venv
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/pip" freeze 2>/dev/null | grep -qxF -f tools/fuzz/requirements.txt; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tools/fuzz/requirements.txt
fi
[ -f dist/src/main/cli.js ] || npm run build
node=node_modules/.bin/node
[ -x "$node" ] || node=node

# Two passes: the open embedded default, then with API keys (requests carry an admin key, so
# every route is reached; the 401/403 answers are covered by the auth tests).
server=
data=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$data" ]; then rm -rf "$data"; fi
  server= data=
}
trap cleanup EXIT

fuzz() { # fuzz <label> [server flags...]
  local label=$1; shift
  data=$(mktemp -d)
  local port url
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  url="http://127.0.0.1:$port"
  "$node" bin/tributary.js dev --host 127.0.0.1 --port "$port" --data-dir "$data" --rate-limit-requests 0 --log-level error "$@" &
  server=$!
python3 - "$url/readyz" <<'PY'
import sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("the server did not become ready")
PY
  TRIBUTARY_URL="$url" "$node" bin/tributary.js publish sensor_readings examples/sensor_readings.ndjson >/dev/null
  echo "=== fuzz: $label"
  "$venv/bin/st" run "$url/openapi.json" "${headers[@]}" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" --seed 1 --workers 1 --no-color --generation-database none \
    --suppress-health-check all --request-timeout 10
  cleanup
}

headers=()
fuzz "open (no API keys)"
created=$("$node" bin/tributary.js keys create fuzz admin 2>/dev/null)
key=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["key"])' "$created")
keys=$(python3 -c 'import json, sys; print(json.dumps({"keys": [json.loads(sys.argv[1])["entry"]]}))' "$created")
headers=(-H "Authorization: Bearer $key")
TRIBUTARY_API_KEY="$key" fuzz "with API keys (admin key)" --api-keys "$keys"
