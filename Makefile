# BudgetSmart developer commands. `make run` starts everything; `make test` runs every test.
CARGO ?= cargo

.PHONY: rates-import soak chaos profile seed-data smoke help dev-up dev-down logs test-all build-all push db-shell rabbitmq-shell run test bench fuzz-api lint-deploy eval-analytics migrate build lint fmt check-infra mail-sink backup restore backup-check client-example monitoring-check

SERVICES := gateway engine analytics notification
REGISTRY ?= budgetsmart
TAG ?= latest

help: ## This list
	@grep -hE '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:[^#]*## /\t/' | awk -F'\t' '{printf "  make %-16s %s\n", $$1, $$2}'

dev-up: ## Start PostgreSQL, Redis, RabbitMQ and the mail sink (Docker compose if there is an engine, else the local servers)
	@scripts/dev/dev-up.sh

dev-down: ## Stop the compose datastores (local servers are shared and stay up)
	@scripts/dev/dev-down.sh

logs: ## Follow every service's log from `make run` (.cache/logs)
	@mkdir -p .cache/logs && touch $(addprefix .cache/logs/,$(addsuffix .log,$(SERVICES))) && tail -F .cache/logs/*.log

logs-%: ## Follow one service's log, e.g. make logs-engine
	@mkdir -p .cache/logs && touch .cache/logs/$*.log && tail -F .cache/logs/$*.log

test-all: test ## Same as make test: every test of every crate

test-%: check-infra mail-sink ## One crate's tests, e.g. make test-engine (gateway, engine, analytics, notification, budgetsmart-common, e2e)
	$(CARGO) nextest run -p $* --no-fail-fast

build-all: ## Release builds of the four services
	$(CARGO) build --release $(addprefix -p ,$(SERVICES)) --bins

push: ## Build and push the four images to $(REGISTRY) with tag $(TAG) (needs a Docker engine)
	@docker info >/dev/null 2>&1 || { echo "push needs a Docker engine; none answers here" >&2; exit 1; }
	@for s in $(SERVICES); do \
	  docker build -f infrastructure/Dockerfile --build-arg SERVICE=$$s -t $(REGISTRY)/$$s:$(TAG) . && \
	  docker push $(REGISTRY)/$$s:$(TAG) || exit 1; \
	done

db-shell: ## psql on the development database
	psql "$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/budgetsmart}"

rabbitmq-shell: ## The broker's queues and a rabbitmqctl prompt hint (management UI: http://127.0.0.1:15672 under compose)
	rabbitmqctl list_queues name messages consumers
	@echo "more: rabbitmqctl help; rabbitmqadmin, or the management UI"

run: ## Build and start gateway, engine, analytics and notification (Ctrl-C stops all)
	@scripts/dev/run.sh

test: check-infra mail-sink ## Every test, against the real PostgreSQL, Redis, RabbitMQ and an SMTP sink
	$(CARGO) nextest run --workspace --no-fail-fast

bench: check-infra ## Load benchmark through the gateway plus pgbench; writes docs/benchmarks.md
	@scripts/bench/bench.sh

profile: check-infra mail-sink ## perf profile of every process under a create load: .cache/profile (hottest symbols, folded stacks)
	@scripts/bench/profile.sh

soak: check-infra mail-sink ## Ten minutes of creates and logins, resident memory per service sampled; writes its section of docs/benchmarks.md
	@scripts/bench/soak.sh

chaos: check-infra mail-sink ## Seven faults under load (broker, engine, analytics, notification, Redis, PostgreSQL, poison); writes docs/resilience.md. CHAOS_PROFILE=ci is CI's shorter form
	$(CARGO) build --bins -p engine -p analytics -p notification -p gateway -p e2e
	CHAOS_COMMAND="make chaos$(if $(CHAOS_PROFILE), CHAOS_PROFILE=$(CHAOS_PROFILE))" "$${CARGO_TARGET_DIR:-target}/debug/chaos" --profile $(or $(CHAOS_PROFILE),full) --bin "$${CARGO_TARGET_DIR:-target}/debug" --out $(or $(CHAOS_OUT),docs/resilience.md) $(CHAOS_SCENARIOS)

fuzz-api: check-infra ## Schemathesis, every phase and check, against /openapi.json with a real account: no finding, no warning
	@scripts/test/fuzz-api.sh

lint-deploy: ## Dockerfile (hadolint), compose (spec schema), Kubernetes overlays (kubernetes-validate), .env.example
	@scripts/lint/lint-deploy.sh

eval-analytics: ## Forecast accuracy on public and synthetic monthly series; writes docs/analytics.md
	@scripts/eval/eval-analytics.sh

seed-data: ## Create a demo user with 18 months of history and budgets through the gateway (make run first); prints the login
	@python3 scripts/dev/seed-data.py

smoke: check-infra mail-sink ## Start the system, seed a demo user, check forecast, anomalies, subscriptions, models and the summary email
	@scripts/test/smoke.sh

backup: ## pg_dump of the whole database into BACKUP_DIR (default .cache/backups); prints the file
	@scripts/ops/backup.sh

restore: ## Replace the database with a dump: make restore FILE=.cache/backups/<name>.dump (services stopped)
	@scripts/ops/restore.sh "$(FILE)"

backup-check: check-infra mail-sink ## Fill a database through the API, back it up, drop it, restore it: every row and answer the same
	@scripts/test/backup-restore.sh

monitoring-check: check-infra mail-sink ## A private Prometheus scrapes the system through seed-data and a load: every rule evaluates, every panel query returns data
	@scripts/test/monitoring.sh

client-example: check-infra mail-sink ## Generate the TypeScript client from /openapi.json, build it, run its example against the system
	@scripts/test/client-example.sh

rates-import: check-infra ## Load an ECB reference-rate file (CSV or XML), e.g. make rates-import FILE=eurofxref-hist.csv
	$(CARGO) run -q -p engine -- rates import $(FILE)

migrate: check-infra ## Apply every service's migrations and exit
	$(CARGO) build --bins -p engine -p analytics -p notification
	@for s in engine analytics notification; do "$${CARGO_TARGET_DIR:-target}/debug/$$s" migrate || exit 1; done

build: ## Debug build of every crate and target
	$(CARGO) build --workspace --all-targets

lint: ## cargo fmt --check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## cargo fmt
	$(CARGO) fmt --all

check-infra: ## Check that PostgreSQL, Redis and RabbitMQ answer
	@scripts/dev/check-infra.sh

mail-sink: ## Start the local SMTP sink (maildev, inbox at http://127.0.0.1:1080) unless one listens
	@scripts/dev/mail-sink.sh
