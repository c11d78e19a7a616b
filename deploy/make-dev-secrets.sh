#!/usr/bin/env bash
# Create the Secrets the dev overlay references, with fresh random values (nothing is committed).
#   deploy/make-dev-secrets.sh [namespace, default entrasync-dev]
set -euo pipefail
ns="${1:-entrasync-dev}"
rand() { head -c 24 /dev/urandom | base64 | tr -d '/+=' ; }
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -
users=(config scheduler syncer history receiver console reader admin)
declare -A pw
pw_args=(); url_args=()
for u in "${users[@]}"; do
  pw[$u]=$(rand)
  pw_args+=("--from-literal=NATS_PASSWORD_${u^^}=${pw[$u]}")
  url_args+=("--from-literal=${u}-url=nats://${u}:${pw[$u]}@nats:4222")
done
apply() { kubectl -n "$ns" create secret generic "$@" --dry-run=client -o yaml | kubectl apply -f -; }
apply entrasync-nats-passwords "${pw_args[@]}"
apply entrasync-nats "${url_args[@]}"
apply entrasync-mongodb --from-literal=uri="mongodb://mongodb-0.mongodb:27017/?replicaSet=rs0"
apply entrasync-config-keys --from-literal=current="$(head -c 32 /dev/urandom | base64 | tr '/+' '_-')"
# Console: the session secret is random; admin accounts and API tokens are hashes you make with
#   uv run entrasync-console hash-password   /   uv run entrasync-console new-token NAME
apply entrasync-console --from-literal=session-secret="$(rand)$(rand)" \
  --from-literal=admins="${ENTRASYNC_CONSOLE_ADMINS:-{\}}" \
  --from-literal=api-tokens="${ENTRASYNC_CONSOLE_API_TOKENS:-{\}}"
echo "secrets created in namespace $ns"
