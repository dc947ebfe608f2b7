# Sourced by backup.sh and restore.sh: DATABASE_URL as the services read it (the environment,
# else the repository's .env, else the default), its database name, and the URL of the same
# server's maintenance database `postgres`.
if [ -z "${DATABASE_URL:-}" ] && [ -f .env ]; then
  DATABASE_URL=$(sed -n 's/^DATABASE_URL=//p' .env | tail -1)
fi
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/budgetsmart}
read -r DATABASE_NAME MAINTENANCE_URL < <(python3 -c '
import sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
print(url.path.lstrip("/"), urllib.parse.urlunsplit(url._replace(path="/postgres")))
' "$DATABASE_URL")
export DATABASE_URL DATABASE_NAME MAINTENANCE_URL
