# tinyml: `make demo` and `make test` are all a new machine needs.
PY := .venv/bin/python
export TINYML_MODEL_ZOO ?= $(abspath $(wildcard ../shared/models))

.PHONY: setup test demo bench native clean

setup:
	@bash scripts/setup.sh

native: setup
	@$(MAKE) -s -C native_modules all

test: setup native
	@bash scripts/run_tests.sh

demo: setup native
	@$(PY) examples/demo.py

bench: setup native
	@$(PY) bench/run.py --out BENCHMARKS.md

clean:
	rm -rf native_modules/build .pytest_cache
