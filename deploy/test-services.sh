#!/usr/bin/env bash
# A private PostgreSQL and Redis for the scale tests, from the Debian packages (no containers).
#
#   eval "$(bash deploy/test-services.sh start /tmp/lkk-services)"   # prints the exports
#   bash deploy/test-services.sh stop /tmp/lkk-services
#
# Both listen on 127.0.0.1 only, on free ports, with their files in the given folder; nothing
# is written elsewhere and nothing survives `stop`. initdb and pg_ctl refuse to run as root,
# so as root they run as the `postgres` user (created if missing), as ../shared/TOOLCHAIN.md
# describes. Prints `export LKK_TEST_DATABASE_URL=…` and `export LKK_TEST_REDIS_URL=…`.
set -euo pipefail

action="${1:-}"
dir="${2:-}"
if [ -z "$action" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop <folder>" >&2
  exit 2
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bin() {
  local initdb
  initdb="$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$initdb" ]; then
    echo "PostgreSQL server binaries not found (apt-get install -y postgresql)" >&2
    exit 1
  fi
  dirname "$initdb"
}

as_postgres() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  mkdir -p "$dir"
  chmod 755 "$dir"  # the postgres user must reach its folder inside
  local bin pg_port redis_port
  bin="$(pg_bin)"
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" --shell /usr/sbin/nologin postgres
    mkdir -p "$dir/pg"
    chown postgres:postgres "$dir/pg"
  else
    mkdir -p "$dir/pg"
  fi
  pg_port="$(free_port)"
  as_postgres "$bin/initdb" -D "$dir/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$dir/pg/initdb.log" 2>&1
  as_postgres "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -o \
    "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
    start >/dev/null
  echo "$pg_port" >"$dir/pg.port"

  redis_port="$(free_port)"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 50); do
    [ -s "$dir/redis.pid" ] && break
    sleep 0.1
  done
  echo "export LKK_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:$pg_port/postgres"
  echo "export LKK_TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0"
}

stop() {
  if [ -d "$dir/pg/data" ]; then
    as_postgres "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -s "$dir/redis.pid" ]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop <folder>" >&2
    exit 2
    ;;
esac
