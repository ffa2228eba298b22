#!/usr/bin/env bash
# Installs the reference-design rebuild (bench/peer/app.py) into bench/peer/.venv from PyPI, at
# the versions pinned in bench/peer/requirements.txt, reusing pip's cache. Does nothing when the
# venv already holds exactly those versions. Run by .ci/run before `npm run bench`; bench/peer.ts
# runs it too when the venv is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
venv=.venv
wanted=$(grep -vE '^\s*(#|$)' requirements.txt | sed -E 's/\[[^]]*\]//' | tr 'A-Z_' 'a-z-' | sort)
have=$("$venv/bin/pip" freeze --disable-pip-version-check 2>/dev/null | tr 'A-Z_' 'a-z-' | sort || true)
if [ -x "$venv/bin/python" ] && [ -z "$(comm -23 <(echo "$wanted") <(echo "$have"))" ]; then
  echo "bench/peer/.venv is up to date"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
echo "bench/peer/.venv installed: $("$venv/bin/python" -c 'import duckdb, fastapi, uvicorn; print("duckdb", duckdb.__version__, "fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__)')"
