#!/usr/bin/env bash
# certbot --manual-cleanup-hook: remove the token published by certbot-auth-hook.sh.
set -euo pipefail
. "$(dirname "$0")/certbot-hook-env.sh"
url=${PORTCULLIS_ADMIN_URL:-http://127.0.0.1:9901}
curl --silent --show-error -X DELETE \
    -H "Authorization: Bearer $PORTCULLIS_ADMIN_TOKEN" "$url/admin/acme/challenges/$CERTBOT_TOKEN" >/dev/null || true
