# make run   -- create .venv if missing, install requirements.txt, launch http://127.0.0.1:7860
# make test  -- the same plus requirements-dev.txt, then the whole test suite (CPU only, offline)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=

.PHONY: run test bench train examples clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(PY) app.py $(ARGS)

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(ARGS)

bench: $(VENV)/.installed
	$(PY) -m bench.run $(ARGS)

# Re-create every bundled ShapesWorld model (about 1.5 h on 2 cores; one at a time). Configs that start
# from another model's weights (shapes-blip-tiny's image encoder starts from shapes-vit-tiny) come last.
LATE_CONFIGS := configs/shapes-blip-tiny.toml
train: $(VENV)/.installed
	for cfg in $(filter-out $(LATE_CONFIGS),$(sort $(wildcard configs/*.toml))) $(LATE_CONFIGS); do \
	  $(PY) -m visionlab.toy.train $$cfg || exit 1; done

examples: $(VENV)/.installed
	$(PY) -m visionlab.toy.examples

clean:
	rm -rf $(VENV) .pytest_cache .gradio test-output
