# Sourced by the certbot hooks: the admin token from the environment or, for an installed
# service, from its environment file (readable by root, as certbot runs).
env_file=${PORTCULLIS_ENV_FILE:-/etc/portcullis/portcullis.env}
if [ -z "${PORTCULLIS_ADMIN_TOKEN:-}" ] && [ -r "$env_file" ]; then
    PORTCULLIS_ADMIN_TOKEN=$(sed -n 's/^PORTCULLIS_ADMIN_TOKEN=//p' "$env_file")
fi
: "${PORTCULLIS_ADMIN_TOKEN:?set PORTCULLIS_ADMIN_TOKEN to the gateway admin token}"
