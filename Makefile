.PHONY: run test test-unit lint bench

run:
	scripts/run

test:
	scripts/test

test-unit:
	scripts/test-unit

lint:
	scripts/bootstrap-venv requirements-dev.txt
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench:
	scripts/bench
