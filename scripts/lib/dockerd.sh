# A private Docker daemon on a unix socket under a directory of its own (no iptables, no
# bridge, the vfs storage driver), for scripts/test and scripts/bench.
#
#   start_dockerd DIR   starts it; sets DOCKERD_PID, DOCKER_DIR and DOCKER_SOCK
#   stop_dockerd        stops it and the containerd it started (does nothing if none)

DOCKERD_PID=""

start_dockerd() {
    DOCKER_DIR="$1"
    DOCKER_SOCK="$DOCKER_DIR/docker.sock"
    mkdir -p "$DOCKER_DIR/data" "$DOCKER_DIR/exec"
    dockerd \
        --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
        --data-root "$DOCKER_DIR/data" \
        --exec-root "$DOCKER_DIR/exec" \
        --pidfile "$DOCKER_DIR/docker.pid" \
        --host "unix://$DOCKER_SOCK" \
        >"$DOCKER_DIR/dockerd.log" 2>&1 3>&- 4>&- </dev/null &
    DOCKERD_PID=$!
    local waited=0
    until docker -H "unix://$DOCKER_SOCK" info >/dev/null 2>&1; do
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            cat "$DOCKER_DIR/dockerd.log" >&2
            echo "dockerd exited during start-up" >&2
            return 1
        fi
        if ((waited >= 600)); then
            cat "$DOCKER_DIR/dockerd.log" >&2
            echo "dockerd did not answer within 60s" >&2
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "dockerd ready on unix://$DOCKER_SOCK after ~$((waited / 10)).$((waited % 10))s" >&2
}

stop_dockerd() {
    [[ -n "$DOCKERD_PID" ]] || return 0
    if kill -0 "$DOCKERD_PID" 2>/dev/null; then
        kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$DOCKERD_PID" 2>/dev/null; then
            echo "dockerd did not stop in 30s, killing it" >&2
            kill -KILL "$DOCKERD_PID" 2>/dev/null || true
        fi
    fi
    wait "$DOCKERD_PID" 2>/dev/null || true
    # The containerd that dockerd started for itself keeps its pid here.
    local cpid
    if [[ -f "$DOCKER_DIR/exec/containerd/containerd.pid" ]]; then
        cpid="$(cat "$DOCKER_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)"
        if [[ -n "$cpid" ]] && kill -0 "$cpid" 2>/dev/null; then
            kill -TERM "$cpid" 2>/dev/null || true
            sleep 1
            kill -KILL "$cpid" 2>/dev/null || true
        fi
    fi
    DOCKERD_PID=""
}
