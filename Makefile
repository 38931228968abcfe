.PHONY: run test lint bench

run:
	scripts/run

test:
	scripts/test

lint:
	scripts/bootstrap-venv requirements-dev.txt
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench:
	scripts/bench
