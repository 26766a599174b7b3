# scripts/pinned-venv.sh: sourced (not run) by the scripts that install
# pinned Python tools into a git-ignored venv of their own — sam.sh,
# checkov.sh, ministack.sh, check-export.sh, bench/compare/venv.sh — so
# that they check, lock and install the same way.
#
#   pinned_venv VENV WHO PACKAGE==VERSION...
#
# makes VENV a venv holding every package at its pinned version: nothing
# happens when it already does (checked from the package metadata, without
# importing anything); otherwise it installs them, creating the venv if
# needed, and fails unless they are there afterwards. Concurrent first
# runs serialize on a lock file in the venv. WHO prefixes its messages,
# which go to stderr, as does pip's output (a caller's stdout stays its
# own). PYTHON picks the interpreter for a new venv (python3).

# pinned_venv_has VENV PACKAGE==VERSION... succeeds when VENV holds every
# package at its version.
pinned_venv_has() {
	local venv=$1
	shift
	[[ -x "$venv/bin/python" ]] && "$venv/bin/python" - "$@" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
for spec in sys.argv[1:]:
    name, version = spec.split("==")
    if m.version(name) != version:
        sys.exit(1)
PY
}

pinned_venv() {
	local venv=$1 who=$2
	shift 2
	pinned_venv_has "$venv" "$@" && return 0
	mkdir -p "$venv"
	exec 9>"$venv/.install.lock"
	if command -v flock >/dev/null 2>&1; then
		flock 9
	fi
	if ! pinned_venv_has "$venv" "$@"; then
		echo "$who: installing $* into $venv" >&2
		[[ -x "$venv/bin/python" ]] || "${PYTHON:-python3}" -m venv "$venv" >&2
		"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
		pinned_venv_has "$venv" "$@" || {
			echo "$who: $* not installed in $venv after pip install" >&2
			exec 9>&-
			return 1
		}
	fi
	exec 9>&-
}
