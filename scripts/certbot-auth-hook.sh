#!/usr/bin/env bash
# certbot --manual-auth-hook: publish the HTTP-01 key authorization through the Portcullis
# admin API (no shared webroot needed; the token expires after acme.token_ttl).
#
#   certbot certonly --manual --preferred-challenges http \
#       --manual-auth-hook scripts/certbot-auth-hook.sh \
#       --manual-cleanup-hook scripts/certbot-cleanup-hook.sh -d example.com
#
# certbot sets CERTBOT_TOKEN and CERTBOT_VALIDATION.
# Environment: PORTCULLIS_ADMIN_TOKEN (required, else read from /etc/portcullis/portcullis.env), PORTCULLIS_ADMIN_URL (default http://127.0.0.1:9901).
set -euo pipefail
. "$(dirname "$0")/certbot-hook-env.sh"
url=${PORTCULLIS_ADMIN_URL:-http://127.0.0.1:9901}
curl --fail-with-body --silent --show-error --retry 5 --retry-delay 1 -X PUT --data-binary "$CERTBOT_VALIDATION" \
    -H "Authorization: Bearer $PORTCULLIS_ADMIN_TOKEN" "$url/admin/acme/challenges/$CERTBOT_TOKEN" >/dev/null
