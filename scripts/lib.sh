# Shared by scripts/run and scripts/test: install what is missing.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=
apt_install() {
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The PostgreSQL server binaries (initdb, pg_ctl, postgres) and, when we run as
# root, the unprivileged "postgres" account the cluster runs as.
ensure_postgres() {
    if command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
        if [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1; then
            return
        fi
    fi
    echo "installing postgresql (apt-get)..." >&2
    apt_install postgresql
    # Debian's package starts a cluster on port 5432; we do not use it.
    as_root sh -c 'command -v pg_ctlcluster >/dev/null && for v in /etc/postgresql/*/main; do [ -d "$v" ] && pg_ctlcluster "$(basename "$(dirname "$v")")" main stop || true; done' >/dev/null 2>&1 || true
}

ensure_go() {
    if ! command -v go >/dev/null 2>&1; then
        echo "Go is required (https://go.dev/doc/install)" >&2
        exit 1
    fi
}

# The real clients the end-to-end tests drive: Debian's aws cli v2, rclone,
# s3cmd and curl, and Node.js with npm for @supabase/storage-js.
ensure_e2e_clients() {
    local missing=()
    [ -x /usr/bin/aws ] || missing+=(awscli)
    command -v rclone >/dev/null 2>&1 || missing+=(rclone)
    command -v s3cmd >/dev/null 2>&1 || missing+=(s3cmd)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]} (apt-get)..." >&2
        apt_install "${missing[@]}"
    fi
}
