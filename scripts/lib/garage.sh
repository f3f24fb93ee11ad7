# A three-node Garage cluster on loopback (replication factor 3), with one bucket and one key,
# for scripts/test and scripts/bench. It is set up by deploy/garage-init.py, through Garage's
# admin API, as docker-compose.yml's scaled profile sets up its cluster. Each node is `garage -c DIR/nodeN.toml server`; a test may
# stop one and start it again with the same command.
#
#   start_garage DIR   starts it; writes DIR/env (GARAGE_ENDPOINT, GARAGE_BUCKET,
#                      GARAGE_KEY_ID, GARAGE_SECRET, GARAGE_REGION) and sources it
#   stop_garage        stops every node it started (does nothing if none)

GARAGE_PIDS=()
GARAGE_DIR=""

# Three free loopback ports per node (S3 API, RPC, admin), picked by the kernel.
_garage_ports() {
    python3 - <<'EOF'
import socket
socks = []
for _ in range(9):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

_garage_wait_port() {
    local port="$1" waited=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ((waited >= 300)); then
            echo "garage did not listen on $port within 30s" >&2
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

start_garage() {
    GARAGE_DIR="$1"
    mkdir -p "$GARAGE_DIR"
    local secret ports admin_token
    secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
    admin_token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    read -r -a ports <<<"$(_garage_ports)"
    local n
    for n in 1 2 3; do
        local s3=${ports[$(((n - 1) * 3))]} rpc=${ports[$(((n - 1) * 3 + 1))]} admin=${ports[$(((n - 1) * 3 + 2))]}
        mkdir -p "$GARAGE_DIR/node$n/meta" "$GARAGE_DIR/node$n/data"
        cat >"$GARAGE_DIR/node$n.toml" <<EOF
metadata_dir = "$GARAGE_DIR/node$n/meta"
data_dir = "$GARAGE_DIR/node$n/data"
db_engine = "lmdb"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$secret"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
admin_token = "$admin_token"
EOF
        echo "$s3" >"$GARAGE_DIR/node$n.s3port"
        echo "$rpc" >"$GARAGE_DIR/node$n.rpcport"
        garage -c "$GARAGE_DIR/node$n.toml" server >"$GARAGE_DIR/node$n.log" 2>&1 3>&- 4>&- </dev/null &
        GARAGE_PIDS+=($!)
        echo $! >"$GARAGE_DIR/node$n.pid"
    done
    local key_id secret_key admins=() rpcs=()
    key_id="GK$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
    secret_key=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
    for n in 1 2 3; do
        admins+=("http://127.0.0.1:${ports[$(((n - 1) * 3 + 2))]}")
        rpcs+=("127.0.0.1:$(cat "$GARAGE_DIR/node$n.rpcport")")
    done
    "$(dirname "${BASH_SOURCE[0]}")/../../deploy/garage-init.py" \
        --admin "$(IFS=,; echo "${admins[*]}")" --rpc "$(IFS=,; echo "${rpcs[*]}")" \
        --token "$admin_token" --bucket berth --key-id "$key_id" --secret "$secret_key" \
        >"$GARAGE_DIR/init.log" 2>&1 || {
        cat "$GARAGE_DIR/init.log" >&2
        return 1
    }
    _garage_wait_port "$(cat "$GARAGE_DIR/node1.s3port")" || return 1
    cat >"$GARAGE_DIR/env" <<EOF
GARAGE_ENDPOINT=http://127.0.0.1:$(cat "$GARAGE_DIR/node1.s3port")
GARAGE_BUCKET=berth
GARAGE_REGION=garage
GARAGE_KEY_ID=$key_id
GARAGE_SECRET=$secret_key
EOF
    # shellcheck disable=SC1091
    source "$GARAGE_DIR/env"
    echo "garage: 3 nodes, bucket berth at $GARAGE_ENDPOINT" >&2
}

stop_garage() {
    [[ -n "$GARAGE_DIR" ]] || return 0
    local n pid
    for n in 1 2 3; do
        # A test may have restarted a node: the pid file names the one running now.
        pid=$(cat "$GARAGE_DIR/node$n.pid" 2>/dev/null || true)
        [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${GARAGE_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.5
    for n in 1 2 3; do
        pid=$(cat "$GARAGE_DIR/node$n.pid" 2>/dev/null || true)
        [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
    done
    GARAGE_PIDS=()
    GARAGE_DIR=""
}
