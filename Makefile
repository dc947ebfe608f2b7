# BudgetSmart developer commands. `make run` starts everything; `make test` runs every test.
CARGO ?= cargo

.PHONY: run test bench fuzz-api lint-deploy eval-analytics migrate build lint fmt check-infra mail-sink

run: ## Build and start gateway, engine, analytics and notification (Ctrl-C stops all)
	@scripts/run.sh

test: check-infra mail-sink ## Every test, against the real PostgreSQL, Redis, RabbitMQ and an SMTP sink
	$(CARGO) nextest run --workspace --no-fail-fast

bench: check-infra ## Load benchmark through the gateway plus pgbench; writes docs/benchmarks.md
	@scripts/bench.sh

fuzz-api: check-infra ## Schemathesis against /openapi.json with a valid token: no 5xx, no response off the schema
	@scripts/fuzz-api.sh

lint-deploy: ## Dockerfile (hadolint), compose (spec schema), Kubernetes overlays (kubernetes-validate), .env.example
	@scripts/lint-deploy.sh

eval-analytics: ## Forecast accuracy on public and synthetic monthly series; writes docs/analytics.md
	@scripts/eval-analytics.sh

migrate: check-infra ## Apply every service's migrations and exit
	$(CARGO) build --bins -p engine -p analytics -p notification
	@for s in engine analytics notification; do "$${CARGO_TARGET_DIR:-target}/debug/$$s" migrate || exit 1; done

build:
	$(CARGO) build --workspace --all-targets

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

check-infra:
	@scripts/check-infra.sh

mail-sink: ## Start the local SMTP sink (maildev, inbox at http://127.0.0.1:1080) unless one listens
	@scripts/mail-sink.sh
