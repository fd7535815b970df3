# Weekmotion: `make run` serves the platform, `make test` runs every test. Both are idempotent.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DEFAULT_GOAL := run

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
VAR := $(CURDIR)/var
export PATH := $(BIN):$(PATH)

RUN_PACKAGES := ffmpeg redis-server nginx
TEST_PACKAGES := $(RUN_PACKAGES) chromium chromium-driver mariadb-server

# make run: a private Redis on a socket, nginx on WM_LISTEN in front of gunicorn on WM_WEB_BIND.
WM_LISTEN ?= 127.0.0.1:8000
WM_WEB_BIND ?= 127.0.0.1:8001
WM_PUBLIC_URL ?= http://$(WM_LISTEN)
WM_REDIS_URL ?= unix://$(VAR)/run/redis.sock?db=0
WM_CACHE_URL ?= unix://$(VAR)/run/redis.sock?db=1
export WM_LISTEN WM_WEB_BIND WM_PUBLIC_URL WM_REDIS_URL WM_CACHE_URL

# make test: the machine's Redis and MariaDB (started if they are down); a throwaway database per run.
WM_TEST_REDIS_URL ?= redis://127.0.0.1:6379/14
WM_TEST_MYSQL_URL ?= mysql+pymysql://root@127.0.0.1:3306
export WM_TEST_REDIS_URL

.PHONY: run test lint stop system-run system-test services-test

define apt_install
	missing=""
	for p in $(1); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done
	if [ -n "$$missing" ]; then
	  if [ "$$(id -u)" = 0 ]; then
	    echo "installing:$$missing"
	    apt-get update -qq
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null
	  else
	    echo "missing system packages:$$missing (run as root, or: sudo apt-get install$$missing)"
	  fi
	fi
endef

system-run:
	@$(call apt_install,$(RUN_PACKAGES))

system-test:
	@$(call apt_install,$(TEST_PACKAGES))

$(VENV)/.run-deps: setup.cfg pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -e .
	touch $@

$(VENV)/.test-deps: $(VENV)/.run-deps
	$(BIN)/pip install -qq -e '.[test]'
	touch $@

run: system-run $(VENV)/.run-deps
	@mkdir -p $(VAR)/run $(VAR)/log
	if ! redis-cli -s $(VAR)/run/redis.sock ping >/dev/null 2>&1; then
	  redis-server --daemonize yes --port 0 --unixsocket $(VAR)/run/redis.sock --unixsocketperm 700 \
	    --pidfile $(VAR)/run/redis.pid --dir $(VAR)/run --logfile $(VAR)/log/redis.log \
	    --save "" --appendonly no --maxmemory-policy noeviction
	  for i in $$(seq 50); do redis-cli -s $(VAR)/run/redis.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
	fi
	wm db upgrade
	wm seed-demo
	if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
	  export WM_PROXY_HOPS=1; url="http://$(WM_LISTEN)/"
	else
	  export WM_PROXY_HOPS=0 WM_WEB_BIND=$(WM_LISTEN); url="http://$(WM_LISTEN)/"
	fi
	echo
	echo "Weekmotion is starting: open $$url (Ctrl-C stops it; 'make stop' also stops its Redis)"
	echo
	exec honcho start -f Procfile

stop:
	@if [ -f $(VAR)/run/redis.pid ]; then redis-cli -s $(VAR)/run/redis.sock shutdown nosave || true; fi

services-test:
	@if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
	  echo "starting redis-server on 127.0.0.1:6379"
	  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
	    --dir /tmp --logfile /tmp/wm-test-redis.log
	  for i in $$(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.2; done
	fi
	if ! mysqladmin --protocol=tcp -h127.0.0.1 -uroot ping >/dev/null 2>&1 && ! mysqladmin ping >/dev/null 2>&1; then
	  echo "starting mariadb"
	  install -d -o mysql -g mysql /run/mysqld
	  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
	  for i in $$(seq 60); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.5; done
	fi

test: system-test $(VENV)/.test-deps services-test
	@url="$(WM_TEST_MYSQL_URL)"
	if ! $(BIN)/python -c "import sys,sqlalchemy as s; s.create_engine(sys.argv[1]).connect().close()" "$$url/" 2>/dev/null; then
	  # A fresh Debian MariaDB lets root in only through its socket: make a test account there.
	  mariadb -uroot -e "CREATE USER IF NOT EXISTS 'wm_test'@'127.0.0.1' IDENTIFIED BY 'wm_test';
	    GRANT ALL PRIVILEGES ON \`wm\_test\_%\`.* TO 'wm_test'@'127.0.0.1';"
	  url="mysql+pymysql://wm_test:wm_test@127.0.0.1:3306"
	fi
	WM_TEST_MYSQL_URL="$$url" $(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
