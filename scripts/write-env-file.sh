#!/usr/bin/env bash
# Writes the service's environment file (mode 0640): a new random admin token and the public
# addresses. Used by `make install` and the Debian package's postinst, never over a file that
# exists.
set -euo pipefail
file=$1
[ -e "$file" ] && exit 0
umask 027
cat > "$file" <<ENV
# Read by portcullis.service (EnvironmentFile). Changing it needs a restart.
# The admin API's bearer token (portcullis reload, the certbot hooks and the admin API use it).
PORTCULLIS_ADMIN_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
# Public listeners (ports below 1024 are allowed by the unit's CAP_NET_BIND_SERVICE).
PORTCULLIS_HTTP_ADDRESS=0.0.0.0:80
PORTCULLIS_HTTPS_ADDRESS=0.0.0.0:443
# The application behind the gateway.
#PORTCULLIS_UPSTREAM=127.0.0.1:8000
ENV
if getent group portcullis >/dev/null; then chgrp portcullis "$file"; fi
