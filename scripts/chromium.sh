#!/usr/bin/env bash
# chromium.sh — make sure headless Chromium is there for the dashboard's
# browser test (make test-browser), installing Debian's `chromium` package
# with apt when it is missing. Prints the browser's path on stdout (the
# last line); progress goes to stderr.
#
# Only Debian's package is used: no downloaded browser build (Chrome for
# Testing, puppeteer's), which this project's machines cannot fetch anyway.
# The version is pinned to the one the test was last checked with,
# CHROMIUM_VERSION below. Debian's security archive keeps only the newest
# build of a package, so a pinned version disappears at the next security
# update: then the script installs the candidate Debian offers and says so
# (a notice, not a failure; update CHROMIUM_VERSION when you have checked
# the test with it).
#
# Exit status: 0 with a path on stdout; 1 when Chromium is missing and
# cannot be installed (no apt, not root and no sudo, the install failed).
# The Makefile decides what that means: a failure on CI (CI=true), a skip
# with a notice elsewhere.
#
# Environment: CHROMIUM (a browser binary to use instead; nothing is
# installed), CHROMIUM_NO_INSTALL=1 (only look, never install).
set -euo pipefail

# Checked with the dashboard's browser test (Debian 12 bookworm-security).
CHROMIUM_VERSION=156.0.8078.114-1~deb12u1

say() { echo "chromium.sh: $*" >&2; }

find_browser() {
	local c
	for c in /usr/bin/chromium /usr/bin/chromium-browser; do
		if [[ -x "$c" ]]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

if [[ -n "${CHROMIUM:-}" ]]; then
	if [[ -x "$CHROMIUM" && ! -d "$CHROMIUM" ]]; then
		echo "$CHROMIUM"
		exit 0
	fi
	say "CHROMIUM=$CHROMIUM is not an executable file"
	exit 1
fi
if path=$(find_browser); then
	echo "$path"
	exit 0
fi
if [[ "${CHROMIUM_NO_INSTALL:-0}" == 1 ]]; then
	say "no Chromium at /usr/bin/chromium (CHROMIUM_NO_INSTALL=1: not installing)"
	exit 1
fi
if ! command -v apt-get >/dev/null; then
	say "no Chromium at /usr/bin/chromium and no apt-get to install Debian's package"
	exit 1
fi
sudo=()
if [[ "$(id -u)" != 0 ]]; then
	if ! command -v sudo >/dev/null; then
		say "no Chromium, and installing it needs root (or sudo)"
		exit 1
	fi
	sudo=(sudo -n)
fi

t0=$SECONDS
say "installing Debian's chromium package (pinned $CHROMIUM_VERSION)"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2 || { say "apt-get update failed"; exit 1; }
want="chromium=$CHROMIUM_VERSION"
if ! apt-cache madison chromium | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$CHROMIUM_VERSION"; then
	candidate=$(apt-cache policy chromium | awk '/Candidate:/ { print $2 }')
	if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
		say "Debian's archive offers no chromium package here"
		exit 1
	fi
	say "NOTICE: the pinned $CHROMIUM_VERSION is no longer in Debian's archive (security updates replace it); installing Debian's current $candidate"
	want="chromium=$candidate"
fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "$want" fonts-dejavu-core >&2 || { say "apt-get install $want failed"; exit 1; }
say "installed $want [$((SECONDS - t0))s]"
if ! path=$(find_browser); then
	say "installed, but no /usr/bin/chromium"
	exit 1
fi
echo "$path"
