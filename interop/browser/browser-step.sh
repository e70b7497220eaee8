#!/bin/sh
# mcp-remote's browser. Its `open` runs the bundled xdg-open, which (XDG_CURRENT_DESKTOP=X-Generic,
# no DISPLAY) runs `$BROWSER URL`: this script. It signs in and approves on the opened
# authorization URL in the test's headless Chromium (drive.mjs `login`), whose last navigation is
# the redirect to mcp-remote's callback listener. Every start is recorded (pid), so the test can
# count the sign-ins and stop this process.
set -eu
echo "$$" >>"$BROWSER_STEP_PIDS"
exec "$BROWSER_STEP_NODE" "$(dirname "$0")/drive.mjs" login "$1" >>"$BROWSER_STEP_LOG" 2>&1
