# Ports on 127.0.0.1 for servers started by tests and benchmarks. Sourced;
# needs python3 ($PYTHON3, else python3 on PATH).
#
#   free_port            a port nothing listens on right now
#   wait_port PORT PID   wait (at most 10 s) until 127.0.0.1:PORT accepts
#                        connections while process PID lives

PYTHON3=${PYTHON3:-$(command -v python3 2>/dev/null || true)}

free_port() {
	"$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
	"$PYTHON3" - "$1" "$2" <<'EOF'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
end = time.time() + 10
while time.time() < end:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}
