#!/usr/bin/env bash
# `make run`: starts the gateway with conf/portcullis.toml in the foreground. When nothing
# listens on 127.0.0.1:8000 it first starts the demo app there, and when no admin token is set
# it makes one for this run and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release

if ! (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null; then
    "$bin/portcullis-origin" --port 8000 --name demo-app >/dev/null &
    demo_pid=$!
    trap 'kill $demo_pid 2>/dev/null || true' EXIT
    echo "demo app started on 127.0.0.1:8000 (pid $demo_pid)"
fi

if [[ -z "${PORTCULLIS_ADMIN_TOKEN:-}" ]]; then
    PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32)
    export PORTCULLIS_ADMIN_TOKEN
    echo "admin token for this run: $PORTCULLIS_ADMIN_TOKEN"
fi

echo "try: curl -ik https://localhost:8443/   (http://localhost:8080/ redirects there; -k: self-signed dev certificate)"
echo "     curl http://localhost:9901/metrics"
"$bin/portcullis" run --config conf/portcullis.toml
