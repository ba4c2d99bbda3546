# shellcheck shell=bash
# Helpers shared by the orderflow scripts: repository root, logging, free ports, the one
# list of Debian packages the project needs, and the CMake build. Sourced, never executed.

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "scripts/lib.sh is meant to be sourced by the other scripts" >&2
    exit 2
fi

ORDERFLOW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
ORDERFLOW_SCRIPT="$(basename "$0")"
readonly ORDERFLOW_ROOT ORDERFLOW_SCRIPT

# The Debian 12 packages, in one place. Groups let the Dockerfile install only what it
# needs to build; `ensure_packages` without arguments installs every group.
ORDERFLOW_PACKAGES_BUILD=(
    build-essential cmake pkg-config
    librabbitmq-dev rapidjson-dev libsqlitecpp-dev libsqlite3-dev libfmt-dev catch2
    libspdlog-dev libcli11-dev libboost-dev libpq-dev libjs-chart.js libjemalloc-dev
)
# The project-local servers (scripts/broker.sh, scripts/cluster.sh, scripts/pg.sh, the nginx
# of `up.sh --scale`), the certificates of `broker.sh --tls`, and the HTTP probes of the scripts.
ORDERFLOW_PACKAGES_BROKER=(rabbitmq-server curl postgresql-15 nginx-light openssl)
# Benchmark and demo helpers, what scripts/lint-compose.sh and shellcheck need, and ss
# (iproute2), with which an integration test cuts AMQP connections as a network would.
# Debian's headless Chromium drives the console's browser tests; linux-perf profiles the bench
# (valgrind where perf has no counters); sqlite3 reads the order histories of bench.sh (f).
ORDERFLOW_PACKAGES_TOOLS=(gnuplot-nox wrk jq python3-pika python3-yaml shellcheck docker-compose yamllint iproute2
    chromium chromium-driver linux-perf sqlite3 valgrind)

# The RabbitMQ scripts themselves, not the /usr/sbin wrappers (those switch to the
# rabbitmq user and drop the environment that points the node at our directory).
ORDERFLOW_RABBITMQ_BIN="${ORDERFLOW_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}"

# ---------------------------------------------------------------------------- logging

if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
    _of_bold=$'\e[1m' _of_yellow=$'\e[33m' _of_red=$'\e[31m' _of_reset=$'\e[0m'
else
    _of_bold='' _of_yellow='' _of_red='' _of_reset=''
fi

log() { printf '%s[%s]%s %s\n' "$_of_bold" "$ORDERFLOW_SCRIPT" "$_of_reset" "$*" >&2; }
warn() { printf '%s[%s] warning:%s %s\n' "$_of_yellow" "$ORDERFLOW_SCRIPT" "$_of_reset" "$*" >&2; }
die() {
    printf '%s[%s] error:%s %s\n' "$_of_red" "$ORDERFLOW_SCRIPT" "$_of_reset" "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------- packages

# Runs a command as root: directly, or through passwordless sudo.
as_root() {
    if [[ "$(id -u)" == 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root to run: $* (run as root, or install the packages listed in scripts/lib.sh yourself and set ORDERFLOW_SKIP_PACKAGES=1)"
    fi
}

# Prints the packages among the arguments that are not installed, one per line.
missing_packages() {
    local pkg status
    for pkg in "$@"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
        [[ "$status" == installed ]] || printf '%s\n' "$pkg"
    done
}

# ensure_packages [build|broker|tools|all]...: installs what is missing of those groups
# (default: all). Touches apt only when something is missing, and runs `apt-get update`
# at most once per run, child scripts included (ORDERFLOW_APT_UPDATED is exported).
ensure_packages() {
    local -a groups=("$@") wanted=() missing=()
    local group
    [[ ${#groups[@]} -gt 0 ]] || groups=(all)
    if [[ "${ORDERFLOW_SKIP_PACKAGES:-0}" == 1 ]]; then
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        warn "not a Debian system: install the packages listed in scripts/lib.sh yourself"
        return 0
    fi
    for group in "${groups[@]}"; do
        case "$group" in
            build) wanted+=("${ORDERFLOW_PACKAGES_BUILD[@]}") ;;
            broker) wanted+=("${ORDERFLOW_PACKAGES_BROKER[@]}") ;;
            tools) wanted+=("${ORDERFLOW_PACKAGES_TOOLS[@]}") ;;
            all)
                wanted+=("${ORDERFLOW_PACKAGES_BUILD[@]}" "${ORDERFLOW_PACKAGES_BROKER[@]}"
                    "${ORDERFLOW_PACKAGES_TOOLS[@]}")
                ;;
            *) die "ensure_packages: unknown group '$group'" ;;
        esac
    done
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    [[ ${#missing[@]} -gt 0 ]] || return 0
    log "installing missing packages: ${missing[*]}"
    if [[ "${ORDERFLOW_APT_UPDATED:-0}" != 1 ]]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        export ORDERFLOW_APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}"
}

# ---------------------------------------------------------------------------- build

# build [DIR]: configures and builds into DIR (default $BUILD_DIR, else build/), relative
# to the repository root. ORDERFLOW_SANITIZE (e.g. address,undefined) is passed to CMake
# every time, so a build dir follows the variable; ORDERFLOW_CMAKE_ARGS adds arguments.
build() {
    local dir="${1:-${BUILD_DIR:-build}}"
    local -a extra=()
    read -r -a extra <<<"${ORDERFLOW_CMAKE_ARGS:-}"
    log "configuring $dir (sanitize: ${ORDERFLOW_SANITIZE:-none})"
    (
        cd "$ORDERFLOW_ROOT" || exit 1
        cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
            -DORDERFLOW_SANITIZE="${ORDERFLOW_SANITIZE:-}" "${extra[@]}" || exit 1
        log "building $dir with $(nproc) jobs"
        cmake --build "$dir" -j"$(nproc)" || exit 1
    )
}

# Absolute path of a build dir given relative to the repository root.
build_dir_path() {
    local dir="${1:-${BUILD_DIR:-build}}"
    if [[ "$dir" == /* ]]; then
        printf '%s\n' "$dir"
    else
        printf '%s\n' "$ORDERFLOW_ROOT/$dir"
    fi
}

# ---------------------------------------------------------------------------- ports

# True when something listens on TCP port $1 (any address, IPv4 or IPv6).
port_in_use() {
    local hex files=()
    printf -v hex ':%04X' "$1"
    [[ -r /proc/net/tcp ]] && files+=(/proc/net/tcp)
    [[ -r /proc/net/tcp6 ]] && files+=(/proc/net/tcp6)
    if [[ ${#files[@]} -eq 0 ]]; then
        ss -Htln "sport = :$1" 2>/dev/null | grep -q .
        return
    fi
    # Column 2 is local address:port in hex, column 4 the state (0A = LISTEN).
    awk -v p="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
                     END { exit !found }' "${files[@]}"
}

# True when any socket (listening or connected) uses local port $1: stricter than
# port_in_use, for picking new ports.
port_used_at_all() {
    local hex files=()
    printf -v hex ':%04X' "$1"
    [[ -r /proc/net/tcp ]] && files+=(/proc/net/tcp)
    [[ -r /proc/net/tcp6 ]] && files+=(/proc/net/tcp6)
    [[ ${#files[@]} -gt 0 ]] || { port_in_use "$1"; return; }
    awk -v p="$hex" 'FNR > 1 && substr($2, length($2) - 4) == p { found = 1 }
                     END { exit !found }' "${files[@]}"
}

# free_port [EXCLUDED...]: prints a TCP port nothing uses, other than the excluded ones.
# Picked in 20000-31999: below Linux's ephemeral range (32768-60999, where outgoing
# connections and RabbitMQ's CLI distribution ports 35672-35682 live) and away from the
# well-known ports of RabbitMQ (25672 is skipped explicitly).
free_port() {
    local port excluded _
    # ORDERFLOW_PORT_RANGE_START / _SIZE narrow the range (20000-31999): nodes of one cluster
    # that pick their ports at the same time get disjoint ranges, so they cannot pick the same.
    local base="${ORDERFLOW_PORT_RANGE_START:-20000}" span="${ORDERFLOW_PORT_RANGE_SIZE:-12000}"
    for _ in $(seq 1 200); do
        port=$((base + (RANDOM * 32768 + RANDOM) % span))
        [[ "$port" != 25672 ]] || continue
        for excluded in "$@"; do
            [[ "$port" != "$excluded" ]] || continue 2
        done
        if ! port_used_at_all "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    die "no free TCP port found"
}

# ---------------------------------------------------------------------------- processes

# True when process $1 exists (and is not a zombie).
pid_alive() {
    local state
    [[ "$1" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$1" 2>/dev/null || return 1
    state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)"
    # No state: the process was reaped between kill -0 and the read (gone, not alive).
    [[ -n "$state" && "$state" != Z ]]
}

# wait_pid_exit PID SECONDS: waits for a process that is not our child to exit.
wait_pid_exit() {
    local pid="$1" deadline=$((SECONDS + $2))
    while pid_alive "$pid"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# wait_http URL SECONDS: waits until URL answers 2xx.
wait_http() {
    local url="$1" deadline=$((SECONDS + $2))
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# ---------------------------------------------------------------------------- private broker

# start_private_broker DIR NAME [ARGS...]: starts a RabbitMQ node NAME@localhost of its own in DIR
# on four free ports (test.sh, bench.sh and demo.sh each run one beside whatever else
# runs here; NAME must be unique on this host). Sets private_amqp_port, private_mgmt_port,
# private_dist_port and private_stream_port; the caller stops it with
# `scripts/broker.sh stop --dir DIR`. A later `broker.sh start --dir DIR` reuses the ports
# it recorded in DIR/ports.env. ARGS go to `broker.sh start` (e.g. --tls).
start_private_broker() {
    local dir="$1" name="$2"
    private_amqp_port="$(free_port)"
    private_mgmt_port="$(free_port "$private_amqp_port")"
    private_dist_port="$(free_port "$private_amqp_port" "$private_mgmt_port")"
    private_stream_port="$(free_port "$private_amqp_port" "$private_mgmt_port" "$private_dist_port")"
    # The node must not inherit broker settings the caller happens to have in its environment.
    ORDERFLOW_BROKER_AMQP_PORT="$private_amqp_port" ORDERFLOW_BROKER_MGMT_PORT="$private_mgmt_port" \
        ORDERFLOW_BROKER_DIST_PORT="$private_dist_port" \
        ORDERFLOW_BROKER_STREAM_PORT="$private_stream_port" \
        ORDERFLOW_BROKER_NODE="$name@localhost" ORDERFLOW_BROKER_PICK_FREE_PORTS=0 \
        "$ORDERFLOW_ROOT/scripts/broker.sh" start --dir "$dir" "${@:3}" >/dev/null
}

# ---------------------------------------------------------------------------- broker security

# redact_url_password TEXT: TEXT with the password of each URL in it replaced by ***.
redact_url_password() {
    sed -E 's#(://[^:/@,]+:)[^@,]+@#\1***@#g' <<<"$1"
}

# make_broker_certs DIR [HOST...]: a CA and a server certificate for the broker's TLS
# listeners (SPEC section 11), made with openssl in DIR unless present and valid for at
# least another day: DIR/ca.pem (what clients trust: ORDERFLOW_AMQP_CA_FILE), DIR/ca.key,
# DIR/server.pem and DIR/server.key, the server's names the HOSTs (default localhost) as DNS
# subject alternative names. Keys are readable by their owner only.
make_broker_certs() {
    local dir="$1" hosts=("${@:2}") san="" host
    [[ ${#hosts[@]} -gt 0 ]] || hosts=(localhost)
    if [[ -s "$dir/ca.pem" && -s "$dir/server.pem" && -s "$dir/server.key" ]] &&
        openssl x509 -checkend 86400 -noout -in "$dir/server.pem" >/dev/null 2>&1 &&
        openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" >/dev/null 2>&1; then
        return 0
    fi
    command -v openssl >/dev/null 2>&1 || ensure_packages broker
    for host in "${hosts[@]}"; do
        san+="${san:+,}DNS:$host"
    done
    mkdir -p "$dir"
    chmod 700 "$dir"
    (
        umask 077
        cd "$dir" || exit 1
        openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 -keyout ca.key -out ca.pem \
            -subj "/CN=orderflow local CA $(date -u +%FT%TZ)" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr \
            -subj "/CN=${hosts[0]}"
        printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" \
            >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
            -sha256 -extfile server.ext -out server.pem
        rm -f server.csr server.ext ca.srl
        chmod 644 ca.pem server.pem
    ) >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; die "openssl could not make the certificates in $dir"; }
}

# The service users of SPEC section 11: name suffix, then configure, write and read
# permission patterns, separated by spaces. No service may configure (declare) anything;
# each writes the exchanges it publishes to (events, dead letters, and amq.default for its
# delayed retries) and reads its own queue only; analytics reads the event stream only.
# The console (inside analytics, ORDERFLOW_CONSOLE_AMQP_URL) reads the three DLQs (browse,
# replay, purge) and writes amq.default only (a replay goes back to its work queue).
ORDERFLOW_SERVICE_PERMISSIONS=(
    'ingress ^$ ^(orders|orders\.dlx|amq\.default)$ ^ingress\.order-status$'
    'inventory ^$ ^(orders|orders\.dlx|amq\.default)$ ^inventory\.order-placed$'
    'notification ^$ ^(orders|orders\.dlx|amq\.default)$ ^notification\.inventory-events$'
    'analytics ^$ ^$ ^orders\.events$'
    'console ^$ ^amq\.default$ ^(ingress\.order-status|inventory\.order-placed|notification\.inventory-events)\.dlq$'
)

# percent_encode TEXT: TEXT with every byte but unreserved ones as %XX (a vhost in a URL).
percent_encode() {
    local text="$1" out="" c i
    local LC_ALL=C
    for ((i = 0; i < ${#text}; i++)); do
        c="${text:i:1}"
        case "$c" in
            [A-Za-z0-9._~-]) out+="$c" ;;
            *) printf -v c '%%%02x' "'$c"; out+="$c" ;;
        esac
    done
    printf '%s\n' "$out"
}

# url_with_user URLS USER PASSWORD VHOST: each comma-separated scheme://host:port of URLS
# with the user info and the (percent-encoded) vhost path added.
url_with_user() {
    local out="" base vhost
    local -a bases
    vhost="$(percent_encode "$4")"
    IFS=',' read -r -a bases <<<"$1"
    for base in "${bases[@]}"; do
        out+="${out:+,}${base%%://*}://$2:$3@${base#*://}/$vhost"
    done
    printf '%s\n' "$out"
}

# mgmt_put MGMT_URL CA PATH JSON: one PUT to the management API. The credentials of
# MGMT_URL (scheme://user:password@host:port) and the body go to curl through files, never
# its command line, where any local user could read them.
mgmt_put() {
    local url="$1" ca="$2" path="$3" body="$4" auth base status tmp
    auth="${url#*://}"
    auth="${auth%%@*}"
    base="${url%%://*}://${url#*@}"
    tmp="$(umask 077 && mktemp)"
    printf 'user = "%s"\n' "$auth" >"$tmp"
    local -a tls_args=()
    [[ -z "$ca" ]] || tls_args=(--cacert "$ca")
    status="$(printf '%s' "$body" | curl -sS -o /dev/null -w '%{http_code}' --max-time 30 \
        "${tls_args[@]}" -K "$tmp" -X PUT -H 'Content-Type: application/json' --data-binary @- \
        "$base$path")" || status=000
    rm -f "$tmp"
    [[ "$status" == 2?? ]] || die "management API: PUT $path answered $status"
}

# json_string TEXT: TEXT as a JSON string (the patterns and passwords here need only \ and ").
json_string() {
    local text="${1//\\/\\\\}"
    printf '"%s"' "${text//\"/\\\"}"
}

# setup_broker_users VHOST PREFIX ENV_FILE URLS MGMT_URL [CA]: through the management API of
# a running broker (MGMT_URL with an administrator's credentials; CA for https), creates
# VHOST if missing, the user PREFIX-admin (administrator, everything on VHOST) and one user
# PREFIX-<service> per service with the permissions above (existing users get their saved
# password again), and writes ENV_FILE (mode 600): ORDERFLOW_ADMIN_AMQP_URL and
# ORDERFLOW_<SERVICE>_AMQP_URL, each URL of URLS (comma-separated scheme://host:port, the
# nodes of a cluster) with the user's credentials. Passwords are random, kept in ENV_FILE
# and reused by the next run. Never prints a password.
setup_broker_users() {
    local vhost="$1" prefix="$2" env_file="$3" urls="$4" mgmt="$5" ca="${6:-}"
    local entry name conf write read user password var value tags vpath
    local -A saved=()
    vpath="$(percent_encode "$vhost")"
    if [[ -f "$env_file" ]]; then
        while IFS='=' read -r var value; do
            [[ "$var" == ORDERFLOW_*_PASSWORD ]] && saved[$var]="$value"
        done <"$env_file"
    fi
    mgmt_put "$mgmt" "$ca" "/api/vhosts/$vpath" '{}'
    (umask 077 && : >"$env_file.tmp")
    for entry in 'admin .* .* .*' "${ORDERFLOW_SERVICE_PERMISSIONS[@]}"; do
        read -r name conf write read <<<"$entry"
        user="$prefix-$name"
        var="ORDERFLOW_${name^^}"
        password="${saved[${var}_PASSWORD]:-$(openssl rand -hex 16)}"
        tags=""
        [[ "$name" != admin ]] || tags=administrator
        mgmt_put "$mgmt" "$ca" "/api/users/$(percent_encode "$user")" \
            "{\"password\":$(json_string "$password"),\"tags\":\"$tags\"}"
        mgmt_put "$mgmt" "$ca" "/api/permissions/$vpath/$(percent_encode "$user")" \
            "{\"configure\":$(json_string "$conf"),\"write\":$(json_string "$write"),\"read\":$(json_string "$read")}"
        {
            printf '%s_PASSWORD=%s\n' "$var" "$password"
            printf '%s_AMQP_URL=%s\n' "$var" "$(url_with_user "$urls" "$user" "$password" "$vhost")"
        } >>"$env_file.tmp"
    done
    mv "$env_file.tmp" "$env_file"
}

# declare_topology_as ENV_FILE [CA_FILE]: `orderflowctl topology declare` with the admin URL
# of ENV_FILE (written by setup_broker_users), so that services without configure permission
# find the topology. ORDERFLOW_CTL names the binary (default $BUILD_DIR/bin/orderflowctl);
# the services' ORDERFLOW_RETRY_DELAYS_MS decides the delay queues, as for them.
declare_topology_as() {
    local env_file="$1" ca="${2:-}" ctl url
    ctl="${ORDERFLOW_CTL:-$(build_dir_path "${BUILD_DIR:-build}")/bin/orderflowctl}"
    [[ -x "$ctl" ]] || die "$ctl not found: build first (scripts/setup.sh), or set ORDERFLOW_CTL"
    url="$(sed -n 's/^ORDERFLOW_ADMIN_AMQP_URL=//p' "$env_file")"
    ORDERFLOW_AMQP_URL="$url" ORDERFLOW_AMQP_CA_FILE="$ca" "$ctl" topology declare >/dev/null ||
        die "could not declare the topology as the administrator"
}

# ---------------------------------------------------------------------------- nginx

# Writes DIR/nginx.conf for an nginx of our own (not the system service: pid, logs and temp
# files under DIR) in front of service replicas, least connections. Each SPEC is
# NAME:LISTEN_PORT:PORT1,PORT2,... (the replicas on 127.0.0.1). Used by `up.sh --scale` and
# the replica-loss test (test/integration/replicas_test.cpp). Run it with
#   nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'
# A replica that refuses connections is skipped (proxy_next_upstream error) and left alone
# for 2 s; a POST already sent to a replica that dies is NOT sent to another one (nginx's
# default, non_idempotent off): the client gets 502 and retries with its Idempotency-Key
# (README, "Losing an ingress replica behind nginx").
write_nginx_conf() {
    local dir="$1" spec name listen ports port temp
    shift
    mkdir -p "$dir/tmp"
    chmod 1777 "$dir/tmp"
    {
        echo "error_log $dir/error.log warn;"
        echo "pid $dir/nginx.pid;"
        echo "worker_processes 1;"
        echo "events { worker_connections 4096; }"
        echo "http {"
        echo "    access_log off;"
        for temp in client_body proxy fastcgi uwsgi scgi; do
            echo "    ${temp}_temp_path $dir/tmp/$temp;"
        done
        for spec in "$@"; do
            IFS=: read -r name listen ports <<<"$spec"
            echo "    upstream $name {"
            echo "        least_conn;"
            for port in ${ports//,/ }; do
                echo "        server 127.0.0.1:$port max_fails=1 fail_timeout=2s;"
            done
            echo "        keepalive 64;"
            echo "    }"
            echo "    server {"
            echo "        listen 127.0.0.1:$listen;"
            echo "        location / {"
            echo "            proxy_pass http://$name;"
            echo "            proxy_http_version 1.1;"
            echo "            proxy_set_header Connection \"\";"
            echo "            proxy_next_upstream error timeout http_502;"
            echo "        }"
            echo "    }"
        done
        echo "}"
    } >"$dir/nginx.conf"
}

# ---------------------------------------------------------------------------- arguments

# The arguments of a server script (scripts/pg.sh): one COMMAND out of the words of $1,
# `--dir DIR` (or --dir=DIR), -h/--help (the caller's `usage`). Sets the caller's globals
# `command` and `dir` (set `dir` to its default first); a usage error exits 2.
parse_command_and_dir() {
    local commands=" $1 "
    shift
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --dir)
                [[ $# -ge 2 ]] || { usage >&2; exit 2; }
                dir="$2"
                shift
                ;;
            --dir=*) dir="${1#--dir=}" ;;
            -h | --help) usage; exit 0 ;;
            *)
                [[ -z "${command:-}" && "$commands" == *" $1 "* ]] || { usage >&2; exit 2; }
                command="$1"
                ;;
        esac
        shift
    done
    [[ -n "${command:-}" ]] || { usage >&2; exit 2; }
}
