# Two entry points: `make demo` (the main job) and `make test`.
# Each creates .venv when it is missing and installs what it needs.
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	.venv/bin/seesall demo --out demo

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

lint: $(STAMP)
	.venv/bin/ruff check seesall tests benchmarks

clean:
	rm -rf .venv demo
