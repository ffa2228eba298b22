#!/usr/bin/env bash
# Installs what `npm test` needs beyond npm packages, idempotently (npm runs it as `pretest`):
#   - the Google Cloud emulators (tools/emulators/build.sh: Go module proxy; ~3.5 min cold,
#     0.1 s when already built);
#   - Debian's chromium for the web console's browser tests (apt-get, when missing and root).
# Skip with TRIBUTARY_SKIP_TEST_DEPS=1 when you provide them yourself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "${TRIBUTARY_SKIP_TEST_DEPS:-0}" = 1 ] && exit 0
bash tools/emulators/build.sh
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: installing Debian's chromium for the browser tests ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test-deps: /usr/bin/chromium is missing; the browser tests need it: sudo apt-get install chromium" >&2
  fi
fi
