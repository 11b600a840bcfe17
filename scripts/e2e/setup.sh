#!/usr/bin/env bash
# Installs what the e2e tests need, offline-safe, on first use (idempotent):
# Debian chromium + ripgrep, and code-server 4.100.3 (VS Code 1.100) on this Node into $QI_E2E_HOME (default .cache/vscode-harness).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
H=${QI_E2E_HOME:-$ROOT/.cache/vscode-harness}
CS="$H/cs20/node_modules/.bin/code-server"
mkdir -p "$H/tmp"
# libkrb5-dev: code-server's kerberos module is built from source (its prebuilt binary is a download).
if ! command -v chromium >/dev/null || ! command -v rg >/dev/null || [ ! -f /usr/include/gssapi/gssapi.h ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq chromium ripgrep libkrb5-dev >/dev/null
fi
if [ -x "$CS" ] && [ -f "$H/cs20/.installed" ]; then echo "code-server ready: $CS"; exit 0; fi
# @vscode/ripgrep (pinned in code-server's shrinkwrap) downloads rg from GitHub in postinstall; seed its cache with Debian's rg.
mkdir -p "$H/tmp/vscode-ripgrep-cache-1.15.11" "$H/rgpkg"
cp "$(command -v rg)" "$H/rgpkg/rg"
tar czf "$H/tmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$H/rgpkg" rg
mkdir -p "$H/cs20" && cd "$H/cs20"
[ -f package.json ] || echo '{"name":"cs20","private":true}' > package.json
# node-pty's postinstall runs `npx node-gyp`; npm_config_yes lets it. code-server's postinstall needs --unsafe-perm as root.
TMPDIR="$H/tmp" npm_config_yes=true npm install code-server@4.100.3 --unsafe-perm --ignore-scripts=false --no-audit --no-fund
touch "$H/cs20/.installed"
echo "code-server ready: $CS"
