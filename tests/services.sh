#!/usr/bin/env bash
# Make PostgreSQL (127.0.0.1:5432, trust auth, user postgres) and Redis (127.0.0.1:6379)
# available for the tests: use them where they run, start them where installed but
# stopped, install them with apt where missing (as root on Debian). Outside CI a failure
# here is only a warning: the tests that need the server then skip with one clear line.
set -u
strict=${CI:-false}

say() { echo "services: $*"; }
fail() {
  if [ "$strict" = "true" ]; then say "ERROR: $*"; exit 1; else say "warning: $*"; fi
}

pg_up()    { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ] || (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    return 1
  fi
}

start_pg() {
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql || return 1
  fi
  local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  # trust auth on loopback for the test user (what the project's machines have)
  if ! grep -q "changtong-tests" "$hba" 2>/dev/null; then
    sed -i '1i host all all 127.0.0.1/32 trust # changtong-tests\nhost all all ::1/128 trust # changtong-tests\nlocal all all trust # changtong-tests' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main start
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server || return 1
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

if pg_up; then say "PostgreSQL is running on 127.0.0.1:5432"
else
  say "starting PostgreSQL"
  { start_pg && wait_for pg_up && say "PostgreSQL started"; } || fail "PostgreSQL is not available on 127.0.0.1:5432"
fi

if redis_up; then say "Redis is running on 127.0.0.1:6379"
else
  say "starting Redis"
  { start_redis && wait_for redis_up && say "Redis started"; } || fail "Redis is not available on 127.0.0.1:6379"
fi
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then say "nginx is installed"
else
  apt_install nginx || fail "nginx is not installed (the proxy test needs Debian's nginx)"
fi
# Exchange packages are verified with the openssl command (`openssl cms -verify`).
if command -v openssl >/dev/null; then say "openssl is installed"
else
  apt_install openssl || fail "openssl is not installed (exchange packages are verified with it)"
fi
# Red-header PDFs (doc render): LibreOffice, poppler and the mapped Chinese fonts.
bash "$(dirname "$0")/../exchange_bridge/render/install.sh" \
  || fail "red-header PDF rendering is not available (see exchange_bridge/render/install.sh)"
exit 0
