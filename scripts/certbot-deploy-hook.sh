#!/usr/bin/env bash
# certbot --deploy-hook: after a renewal, tell Portcullis to reload its certificates.
# The gateway reads and checks every file before switching; on any problem it keeps the old
# certificates and this hook fails with the reason.
#
#   certbot renew --deploy-hook /path/to/portcullis/scripts/certbot-deploy-hook.sh
#
# Environment: PORTCULLIS_ADMIN_TOKEN (required, else read from /etc/portcullis/portcullis.env), PORTCULLIS_ADMIN_URL (default http://127.0.0.1:9901).
set -euo pipefail
. "$(dirname "$0")/certbot-hook-env.sh"
url=${PORTCULLIS_ADMIN_URL:-http://127.0.0.1:9901}
curl --fail-with-body --silent --show-error -X POST \
    -H "Authorization: Bearer $PORTCULLIS_ADMIN_TOKEN" "$url/admin/certs/reload"
echo
