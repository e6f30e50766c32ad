#!/usr/bin/env bash
# Validates docker-compose.yaml with a real Compose implementation, offline (no Docker
# engine is needed): `docker compose config` when the Compose plugin is there, else
# Debian's docker-compose (1.29, installed here if missing), whose `config` checks the file
# against the Compose schema, interpolates it and resolves services and volumes.
# Then: it renders with .env.example plus the four secrets a user must set; it refuses to
# render when any required value is missing (no secret has a default in the file).
# The file's structure (health checks, depends_on conditions, named volumes, service
# names in .env.example, pgAdmin's servers.json) is tested in tests/mage/test_compose.py.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  printf '\nFAIL (compose check): %s\n' "$*" >&2
  exit 1
}

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "no Compose implementation here: installing Debian's docker-compose"
  apt-get update -qq >/dev/null || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null ||
    fail "could not install docker-compose with apt-get"
  compose=(docker-compose)
else
  fail "no Compose implementation (docker compose plugin or docker-compose) and no way to install one"
fi
echo "validating with: $("${compose[@]}" version 2>/dev/null | head -1)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
SECRETS=(PG_PASSWORD PGADMIN_PASSWORD MAGE_OWNER_PASSWORD QBO_TOKEN_KEY)
REQUIRED=(PG_DBNAME PG_USER PG_PASSWORD PGADMIN_EMAIL PGADMIN_PASSWORD MAGE_OWNER_EMAIL
  MAGE_OWNER_PASSWORD QBO_TOKEN_KEY)

# .env.example with the secrets a user fills, and every profile on (Compose v2 lists only
# the services of active profiles); nothing from this shell's environment.
filled="$work/filled.env"
sed -e 's/^PG_PASSWORD=$/PG_PASSWORD=check-pg-password/' \
  -e 's/^COMPOSE_PROFILES=sandbox$/COMPOSE_PROFILES=sandbox,webhooks/' \
  -e 's/^PGADMIN_PASSWORD=$/PGADMIN_PASSWORD=check-pgadmin-password/' \
  -e 's/^MAGE_OWNER_PASSWORD=$/MAGE_OWNER_PASSWORD=check-mage-password/' \
  -e 's/^QBO_TOKEN_KEY=$/QBO_TOKEN_KEY=check-token-key/' .env.example >"$filled"

render() { env -i PATH="$PATH" HOME="$work" "${compose[@]}" --env-file "$1" config "${@:2}"; }

render "$filled" >"$work/config.yaml" 2>"$work/err" || {
  cat "$work/err" >&2
  fail "docker-compose.yaml does not validate with .env.example and the four secrets set"
}
echo "ok: the file validates and renders with .env.example and the secrets set"

services=$(render "$filled" --services | sort | tr '\n' ' ')
[ "$services" = "mage pgadmin postgres sandbox webhooks worker " ] || fail "services are '$services'"
volumes=$(render "$filled" --volumes | sort | tr '\n' ' ')
[ "$volumes" = "mage_data pgadmin_data pgdata " ] || fail "named volumes are '$volumes'"
echo "ok: services $services; named volumes $volumes"

for name in "${SECRETS[@]}"; do
  grep -q "^$name=.\+" .env.example && fail ".env.example gives $name a value: it must be empty"
done
echo "ok: .env.example leaves ${SECRETS[*]} empty"

for name in "${REQUIRED[@]}"; do
  sed "s/^$name=.*/$name=/" "$filled" >"$work/missing.env"
  if render "$work/missing.env" -q 2>"$work/err"; then
    fail "the file renders with $name empty: it must be required, without a default"
  fi
  grep -q "$name" "$work/err" || fail "with $name empty, the error does not name it: $(cat "$work/err")"
done
echo "ok: each of ${REQUIRED[*]} is required: without it Compose refuses and names it"
echo "compose check: 4 passed, 0 failed"
