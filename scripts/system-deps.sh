#!/usr/bin/env bash
# Install the system packages landrelease needs on Debian/Ubuntu, if they are missing.
#
#   scripts/system-deps.sh                 PostgreSQL server + matching PostGIS 3, python3-venv,
#                                          gdal-bin (ogr2ogr, used by the benchmarks)
#   scripts/system-deps.sh --with-browser  the same, plus chromium for the browser tests
#
# Idempotent and fast when everything is present: it only asks dpkg, and touches apt (one
# `apt-get update`, then one install) only when something must be installed. Silent on
# success; prints what it installs, and apt's output only if apt fails. Uses sudo when not
# run as root, and only when there is something to install.
#
# The PostGIS package must match the server's major version (postgresql-15-postgis-3 for
# PostgreSQL 15): an installed server's version wins, otherwise the distribution's default
# (what the `postgresql` metapackage depends on).
set -euo pipefail

usage() {
    sed -n '2,7s/^# \{0,1\}//p' "$0"
}

with_browser=0
for arg in "$@"; do
    case "$arg" in
        --with-browser) with_browser=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "system-deps: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: this script supports Debian/Ubuntu only. Elsewhere install the" \
        "PostgreSQL server with PostGIS 3, Python's venv module and GDAL by hand." >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# Privilege: decided lazily, so a complete system never needs sudo.
root_cmd=()
need_root() {
    if [[ $EUID -eq 0 ]]; then
        root_cmd=()
    elif command -v sudo >/dev/null 2>&1; then
        root_cmd=(sudo --preserve-env=DEBIAN_FRONTEND)
    else
        echo "system-deps: root is needed to install packages; run as root or install sudo." >&2
        exit 1
    fi
}

apt_log=$(mktemp)
trap 'rm -f "$apt_log"' EXIT

# Run an apt command quietly; show its output only when it fails.
quiet_apt() {
    need_root
    if ! "${root_cmd[@]}" "$@" >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        echo "system-deps: failed: $*" >&2
        exit 1
    fi
}

updated=0
apt_update_once() {
    if [[ $updated -eq 0 ]]; then
        quiet_apt apt-get update -q
        updated=1
    fi
}

# Highest installed server major (postgresql-NN), if any.
installed_pg_major() {
    dpkg-query -W -f='${Status} ${Package}\n' 'postgresql-[0-9]*' 2>/dev/null |
        sed -n 's/^install ok installed postgresql-\([0-9][0-9]*\)$/\1/p' |
        sort -n | tail -n 1
}

# The distribution's default major: what the postgresql metapackage depends on.
default_pg_major() {
    apt-cache depends postgresql 2>/dev/null |
        sed -n 's/^ *Depends: postgresql-\([0-9][0-9]*\)$/\1/p' |
        sort -n | tail -n 1
}

pg_major=$(installed_pg_major)
if [[ -z "$pg_major" ]]; then
    pg_major=$(default_pg_major)
    if [[ -z "$pg_major" ]]; then
        # A fresh image may have empty package lists; fetch them and ask again.
        apt_update_once
        pg_major=$(default_pg_major)
    fi
    if [[ -z "$pg_major" ]]; then
        echo "system-deps: cannot tell which PostgreSQL version this distribution ships" \
            "(apt-cache depends postgresql found nothing)." >&2
        exit 1
    fi
fi

wanted=("postgresql-$pg_major" "postgresql-$pg_major-postgis-3" python3-venv gdal-bin)
if [[ $with_browser -eq 1 ]]; then
    wanted+=(chromium)
fi

missing=()
for pkg in "${wanted[@]}"; do
    if [[ $pkg == chromium ]] && is_installed chromium-browser; then
        continue # Ubuntu's name for it
    fi
    is_installed "$pkg" || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

apt_update_once
for i in "${!missing[@]}"; do
    # Ubuntu has no `chromium` package, only `chromium-browser`.
    if [[ ${missing[$i]} == chromium ]] && ! apt-cache show chromium >/dev/null 2>&1; then
        missing[i]=chromium-browser
    fi
done

echo "system-deps: installing ${missing[*]}"
quiet_apt apt-get install -y -q --no-install-recommends "${missing[@]}"
