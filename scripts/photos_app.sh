# Sourced by scripts/test.sh: builds the photos web app (apps/photos, Vite +
# TypeScript) into apps/photos/dist, which `tandem dev` serves through its
# edge, and installs the browser tests' playwright-core. Both from their
# committed package-lock.json files (npm ci).
echo "==> building the photos web app (npm ci, tsc, vite build)"
npm ci --prefix apps/photos --no-audit --no-fund --loglevel=error
npm run --prefix apps/photos --silent build
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
if ! command -v chromium >/dev/null 2>&1; then
    echo "==> installing Debian's chromium (browser tests)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
