#!/usr/bin/env bash
# `make backup`: the whole database (every service's schema: engine, analytics, notification,
# the shared event tables) with pg_dump, in PostgreSQL's custom format, into BACKUP_DIR
# (default .cache/backups). pg_dump reads one consistent snapshot, so the services may keep
# running. Prints the file's path; a .sha256 beside it is checked by `make restore`.
# The Kubernetes CronJob (infrastructure/kubernetes/base/backup-cronjob.yaml) runs the same dump.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/ops/database-url.sh
dir=${BACKUP_DIR:-.cache/backups}
mkdir -p "$dir"
file="$dir/$DATABASE_NAME-$(date -u +%Y%m%dT%H%M%SZ).dump"
# Written under another name first: a dump cut short never looks like a backup.
pg_dump --format=custom --no-owner --no-privileges --file "$file.partial" --dbname "$DATABASE_URL"
mv "$file.partial" "$file"
(cd "$(dirname "$file")" && sha256sum "$(basename "$file")" > "$(basename "$file").sha256")
echo "$file"
