#!/bin/sh
# proxwatch docker agent, version 1 (issue 19).
#
# Runs inside a Proxmox guest (VM or LXC) that runs Docker, and pushes what `docker ps`, `docker inspect`
# and `docker stats` say about its containers to a proxwatch appliance, which links the report to the
# guest and watches the containers (state, health, restart loops). Needs only sh, docker and curl (plus
# sed, tr, mktemp and the usual coreutils); it keeps no state and opens no port.
#
# Install (as root, on the guest):
#   curl -fsSL https://PROXWATCH/agent/docker.sh -o /usr/local/bin/proxwatch-docker-agent
#   chmod 755 /usr/local/bin/proxwatch-docker-agent
#   install -m 600 /dev/null /etc/proxwatch/docker-agent.conf   # (mkdir -p /etc/proxwatch first)
#   then put in /etc/proxwatch/docker-agent.conf (NAME=value lines, read as data, never executed):
#     PROXWATCH_URL=https://proxwatch.example:8443
#     PROXWATCH_TOKEN=pxw_...            # the ingest token shown once when the agent was created
#     PROXWATCH_VMID=101                 # optional: the guest's vmid (else it is found by IP or MAC)
#     PROXWATCH_INTERVAL=60              # optional: how often cron/systemd runs this (10..86400 s)
#     PROXWATCH_CACERT=/etc/proxwatch/ca.pem   # optional: trust this CA (a self-signed appliance)
#     PROXWATCH_INSECURE=1               # optional: skip TLS verification (not recommended)
#   Environment variables of the same names override the file; PROXWATCH_AGENT_CONF names another file.
#
# Run it every minute (PROXWATCH_INTERVAL=60), either from cron:
#   echo '* * * * * root /usr/local/bin/proxwatch-docker-agent 2>&1 | logger -t proxwatch-agent' \
#     > /etc/cron.d/proxwatch-docker-agent
# or with a systemd timer:
#   /etc/systemd/system/proxwatch-docker-agent.service:
#     [Service]
#     Type=oneshot
#     ExecStart=/usr/local/bin/proxwatch-docker-agent
#   /etc/systemd/system/proxwatch-docker-agent.timer:
#     [Timer]
#     OnBootSec=30s
#     OnUnitActiveSec=60s
#     [Install]
#     WantedBy=timers.target
#   systemctl daemon-reload && systemctl enable --now proxwatch-docker-agent.timer
#
# What leaves the guest, as one JSON POST to $PROXWATCH_URL/api/agents/docker/report:
#   - `docker ps -a --no-trunc --format '{{json .}}'`, `docker inspect` of every container and
#     `docker stats --no-stream --no-trunc --format '{{json .}}'`, as docker prints them, except that the
#     values of environment variables whose names look secret (PASS, SECRET, TOKEN, KEY, CREDENTIAL,
#     PRIVATE, AUTH, SALT, DSN, CONN, any case) are replaced by *** before sending (the appliance masks
#     them again on arrival);
#   - the hostname, the guest's IP addresses (no loopback or link-local) and MAC addresses (no Docker
#     bridges or veths), the Docker server version, PROXWATCH_VMID and PROXWATCH_INTERVAL.
# The token travels only in the Authorization header, handed to curl on its standard input (never in a
# command line that `ps` would show).
#
# Usage: proxwatch-docker-agent [--print] [--version] [--help]
#   --print    print the report (JSON) instead of sending it; needs no URL or token
# Exit status: 0 sent (2xx), 1 refused or unreachable (the reason on stderr), 2 bad configuration,
# 3 docker unusable. For tests, PROXWATCH_HOSTNAME, PROXWATCH_IPS and PROXWATCH_MACS (lists separated
# by spaces or commas) replace what the guest would say.

set -u

AGENT_VERSION=1
# Env names whose values are masked: a name containing any of these words, in any case.
SECRET_WORDS="PASS SECRET TOKEN KEY CREDENTIAL PRIVATE AUTH SALT DSN CONN"

die() {
    code=$1
    shift
    echo "proxwatch-docker-agent: $*" >&2
    exit "$code"
}

print_only=0
for arg in "$@"; do
    case $arg in
        --print) print_only=1 ;;
        --version)
            echo "proxwatch-docker-agent $AGENT_VERSION"
            exit 0
            ;;
        -h | --help)
            sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        *) die 2 "unknown argument: $arg (try --help)" ;;
    esac
done

# --- configuration: the file, then the environment on top -------------------------------------------

# What the environment says, kept before the file is read (`+x` tells unset from empty).
env_url=${PROXWATCH_URL+x}${PROXWATCH_URL-}
env_token=${PROXWATCH_TOKEN+x}${PROXWATCH_TOKEN-}
env_vmid=${PROXWATCH_VMID+x}${PROXWATCH_VMID-}
env_interval=${PROXWATCH_INTERVAL+x}${PROXWATCH_INTERVAL-}
env_insecure=${PROXWATCH_INSECURE+x}${PROXWATCH_INSECURE-}
env_cacert=${PROXWATCH_CACERT+x}${PROXWATCH_CACERT-}
PROXWATCH_URL='' PROXWATCH_TOKEN='' PROXWATCH_VMID='' PROXWATCH_INTERVAL='' PROXWATCH_INSECURE='' PROXWATCH_CACERT=''

conf=${PROXWATCH_AGENT_CONF:-/etc/proxwatch/docker-agent.conf}
if [ -r "$conf" ]; then
    # Read as data (NAME=value, optionally quoted), never sourced: the file cannot run anything.
    while IFS= read -r line || [ -n "$line" ]; do
        line=$(printf '%s' "$line" | sed -e 's/^[[:space:]]*//' -e 's/^export[[:space:]]\{1,\}//' -e 's/[[:space:]]*$//')
        case $line in
            '' | '#'*) continue ;;
        esac
        name=${line%%=*}
        value=${line#*=}
        [ "$name" != "$line" ] || die 2 "$conf: not NAME=value: $line"
        # "quoted" or 'quoted' up to the closing quote; unquoted up to a " #" comment.
        case $value in
            \"*)
                value=${value#\"}
                value=${value%%\"*}
                ;;
            \'*)
                value=${value#\'}
                value=${value%%\'*}
                ;;
            *) value=$(printf '%s' "$value" | sed -e 's/[[:space:]]\{1,\}#.*$//' -e 's/[[:space:]]*$//') ;;
        esac
        case $name in
            PROXWATCH_URL) PROXWATCH_URL=$value ;;
            PROXWATCH_TOKEN) PROXWATCH_TOKEN=$value ;;
            PROXWATCH_VMID) PROXWATCH_VMID=$value ;;
            PROXWATCH_INTERVAL) PROXWATCH_INTERVAL=$value ;;
            PROXWATCH_INSECURE) PROXWATCH_INSECURE=$value ;;
            PROXWATCH_CACERT) PROXWATCH_CACERT=$value ;;
            *) echo "proxwatch-docker-agent: $conf: ignoring unknown setting $name" >&2 ;;
        esac
    done <"$conf"
elif [ -n "${PROXWATCH_AGENT_CONF:-}" ]; then
    die 2 "cannot read $conf"
fi

case $env_url in x*) PROXWATCH_URL=${env_url#x} ;; esac
case $env_token in x*) PROXWATCH_TOKEN=${env_token#x} ;; esac
case $env_vmid in x*) PROXWATCH_VMID=${env_vmid#x} ;; esac
case $env_interval in x*) PROXWATCH_INTERVAL=${env_interval#x} ;; esac
case $env_insecure in x*) PROXWATCH_INSECURE=${env_insecure#x} ;; esac
case $env_cacert in x*) PROXWATCH_CACERT=${env_cacert#x} ;; esac

PROXWATCH_INTERVAL=${PROXWATCH_INTERVAL:-60}
case $PROXWATCH_INTERVAL in
    '' | *[!0-9]*) die 2 "PROXWATCH_INTERVAL must be a number of seconds, not '$PROXWATCH_INTERVAL'" ;;
esac
# Leading zeros would make the number octal to some shells; ten digits are beyond the bound anyway.
PROXWATCH_INTERVAL=$(printf '%s' "$PROXWATCH_INTERVAL" | sed 's/^0*\(.\)/\1/')
if [ ${#PROXWATCH_INTERVAL} -gt 6 ] || [ "$PROXWATCH_INTERVAL" -lt 10 ] || [ "$PROXWATCH_INTERVAL" -gt 86400 ]; then
    die 2 "PROXWATCH_INTERVAL must be between 10 and 86400 s, not $PROXWATCH_INTERVAL"
fi
case $PROXWATCH_VMID in
    '') vmid_json=null ;;
    *[!0-9]* | ??????????*) die 2 "PROXWATCH_VMID must be a guest's number, not '$PROXWATCH_VMID'" ;;
    *) vmid_json=$(printf '%s' "$PROXWATCH_VMID" | sed 's/^0*\(.\)/\1/') ;;
esac

if [ "$print_only" = 0 ]; then
    [ -n "$PROXWATCH_URL" ] || die 2 "no PROXWATCH_URL (set it in $conf or the environment)"
    [ -n "$PROXWATCH_TOKEN" ] || die 2 "no PROXWATCH_TOKEN (set it in $conf or the environment)"
    case $PROXWATCH_URL in
        http://* | https://*) ;;
        *) die 2 "PROXWATCH_URL must start with https:// or http://, not '$PROXWATCH_URL'" ;;
    esac
    # The token goes into a curl config line: only the characters proxwatch tokens are made of.
    case $PROXWATCH_TOKEN in
        *[!A-Za-z0-9_.-]*) die 2 "PROXWATCH_TOKEN has characters a proxwatch token never has" ;;
    esac
    if [ -n "$PROXWATCH_CACERT" ] && [ ! -r "$PROXWATCH_CACERT" ]; then
        die 2 "cannot read PROXWATCH_CACERT $PROXWATCH_CACERT"
    fi
    command -v curl >/dev/null 2>&1 || die 2 "curl is not installed"
fi
command -v docker >/dev/null 2>&1 || die 3 "docker is not installed (or not on PATH)"

# --- helpers --------------------------------------------------------------------------------------

# A JSON string: backslashes and quotes escaped, control characters dropped.
json_str() {
    printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# A JSON array of strings from words separated by spaces, commas or newlines.
json_list() {
    out='' sep=''
    for w in $(printf '%s' "$1" | tr ',\n' '  '); do
        out="$out$sep$(json_str "$w")"
        sep=,
    done
    printf '[%s]' "$out"
}

# JSON lines (one object per line, as docker's {{json .}} prints them) -> one JSON array.
json_lines_to_array() {
    printf '['
    sed -n '/^[[:space:]]*{/p' | sed '$!s/$/,/'
    printf ']'
}

upper=ABCDEFGHIJKLMNOPQRSTUVWXYZ
lower=abcdefghijklmnopqrstuvwxyz
# sed bracket classes for a word, [Pp][Aa][Ss][Ss]: case-insensitive without GNU sed's `I` flag.
anycase() {
    w=$1 out=''
    while [ -n "$w" ]; do
        c=${w%"${w#?}"}
        w=${w#?}
        case $c in
            [A-Za-z]) out="${out}[$(printf '%s' "$c" | tr "$lower" "$upper")$(printf '%s' "$c" | tr "$upper" "$lower")]" ;;
            *) out="$out$c" ;;
        esac
    done
    printf '%s' "$out"
}

secret_alternatives=
for word in $SECRET_WORDS; do
    secret_alternatives="$secret_alternatives${secret_alternatives:+|}$(anycase "$word")"
done
# "NAME=value" JSON strings whose NAME looks secret -> "NAME=***"; a value may hold escaped quotes.
mask_env() {
    sed -E 's/"([A-Za-z0-9_.-]*('"$secret_alternatives"')[A-Za-z0-9_.-]*)=([^"\\]|\\.)*"/"\1=***"/g'
}

is_ignored_interface() {
    case $1 in
        lo | docker0 | br-* | veth* | docker_gwbridge) return 0 ;;
    esac
    return 1
}

guest_ips() {
    if command -v ip >/dev/null 2>&1; then
        # "2: eth0    inet 10.0.0.5/24 brd ..." -> "eth0 10.0.0.5"
        ip -o addr show 2>/dev/null | sed -n 's/^[0-9]*:[[:space:]]*\([^[:space:]]*\)[[:space:]]*inet6\{0,1\}[[:space:]]*\([^/[:space:]]*\).*/\1 \2/p' |
            while read -r ifname addr; do
                is_ignored_interface "${ifname%@*}" || printf '%s\n' "$addr"
            done
    elif command -v hostname >/dev/null 2>&1; then
        hostname -I 2>/dev/null | tr ' ' '\n'
    fi | while read -r addr; do
        case $addr in
            '' | 127.* | ::1 | [Ff][Ee]80:* | 169.254.*) ;;
            *) printf '%s\n' "$addr" ;;
        esac
    done
}

guest_macs() {
    for f in /sys/class/net/*/address; do
        [ -r "$f" ] || continue
        ifname=${f%/address}
        ifname=${ifname##*/}
        is_ignored_interface "$ifname" && continue
        read -r mac <"$f" || continue
        mac=$(printf '%s' "$mac" | tr "$upper" "$lower")
        case $mac in
            '' | 00:00:00:00:00:00) ;;
            ??:??:??:??:??:??) printf '%s\n' "$mac" ;;
        esac
    done
}

# --- collect --------------------------------------------------------------------------------------

tmpdir=${TMPDIR:-/tmp}
body=$(mktemp "$tmpdir/proxwatch-docker.XXXXXX") || die 1 "cannot create a temporary file in $tmpdir"
answer=$(mktemp "$tmpdir/proxwatch-docker.XXXXXX") || die 1 "cannot create a temporary file in $tmpdir"
trap 'rm -f "$body" "$answer"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A hung daemon must not pile up runs from cron: each docker call gets a minute when `timeout` exists.
if command -v timeout >/dev/null 2>&1; then
    dk() { timeout 60 docker "$@"; }
else
    dk() { docker "$@"; }
fi

ps_lines=$(dk ps -a --no-trunc --format '{{json .}}') || die 3 "docker ps failed (is the daemon running, may this user use it?)"
ids=$(dk ps -a -q --no-trunc) || die 3 "docker ps -q failed"
inspect='[]'
if [ -n "$ids" ]; then
    # A container removed since `ps` makes docker inspect fail, yet it prints the others: keep those.
    # shellcheck disable=SC2086 # the ids are hex words, split on purpose
    inspect=$(dk inspect $ids 2>/dev/null) || true
    case $inspect in
        '['*) ;;
        *) inspect='[]' ;;
    esac
fi
stats_lines=$(dk stats --no-stream --no-trunc --format '{{json .}}' 2>/dev/null) || stats_lines=
docker_version=$(dk version --format '{{.Server.Version}}' 2>/dev/null) || docker_version=

hostname=${PROXWATCH_HOSTNAME:-}
if [ -z "$hostname" ]; then
    hostname=$(hostname 2>/dev/null || uname -n)
fi
ips=${PROXWATCH_IPS-$(guest_ips)}
macs=${PROXWATCH_MACS-$(guest_macs)}

if [ -n "$docker_version" ]; then
    version_json=$(json_str "$docker_version")
else
    version_json=null
fi

{
    printf '{"agent":{"version":%s,"hostname":%s,"vmid":%s,"interval_s":%s,"ips":%s,"macs":%s,"docker_version":%s},\n' \
        "$(json_str "$AGENT_VERSION")" "$(json_str "$hostname")" "$vmid_json" "$PROXWATCH_INTERVAL" \
        "$(json_list "$ips")" "$(json_list "$macs")" "$version_json"
    printf '"ps":'
    printf '%s\n' "$ps_lines" | json_lines_to_array
    printf ',\n"inspect":'
    printf '%s\n' "$inspect" | mask_env
    printf ',\n"stats":'
    printf '%s\n' "$stats_lines" | json_lines_to_array
    printf '}\n'
} >"$body" || die 1 "cannot write the report to $body"

if [ "$print_only" = 1 ]; then
    cat "$body"
    exit 0
fi

# --- send -----------------------------------------------------------------------------------------

set -- --silent --show-error --max-time 30 --request POST \
    --header 'Content-Type: application/json' --data-binary "@$body" \
    --output "$answer" --write-out '%{http_code}'
[ "${PROXWATCH_INSECURE:-0}" = 1 ] && set -- "$@" --insecure
[ -n "$PROXWATCH_CACERT" ] && set -- "$@" --cacert "$PROXWATCH_CACERT"

# The Authorization header comes from a config on stdin (-K -), so the token is in no argv.
status=$(curl "$@" --config - "${PROXWATCH_URL%/}/api/agents/docker/report" <<EOF
header = "Authorization: Bearer $PROXWATCH_TOKEN"
EOF
) || die 1 "cannot reach $PROXWATCH_URL (curl failed, status ${status:-none})"

case $status in
    2??) exit 0 ;;
    *) die 1 "$PROXWATCH_URL refused the report: HTTP $status: $(head -c 2000 "$answer")" ;;
esac
