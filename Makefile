.PHONY: run test lint bench

run:
	scripts/run

test:
	scripts/test

lint:
	scripts/bootstrap-venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench:
	scripts/bench
