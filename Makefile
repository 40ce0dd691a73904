# The course's commands. Two are enough on a fresh machine:
#   make lab    set up .venv and open the course in JupyterLab
#   make test   set up .venv and run the whole test suite
# Every target can be re-run safely.

PYTHON   ?= python3
VENV     := .venv
BIN      := $(CURDIR)/$(VENV)/bin
STAMP    := $(VENV)/.installed
PORT     ?= 8888
LAB_ARGS ?=
JOBS     ?= 1
# Jupyter refuses to start as root (containers, CI) unless told it is meant.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=

# nbgrader needs its helpers (alembic) on PATH, so every target runs with the
# venv's bin/ first.
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install lab test release autograde feedback clean

install: $(STAMP)

# Re-install whenever the pins change. torch and torchvision are installed in
# the same pip call as everything else so they always come as the pinned pair.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[course,test]'
	$(BIN)/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader >/dev/null
	$(BIN)/jupyter server extension enable --sys-prefix nbgrader >/dev/null
	@touch $(STAMP)

lab: install
	@$(BIN)/jupyter labextension list 2>&1 | grep -q '@jupyter/nbgrader.*enabled' \
	  || { echo "nbgrader's JupyterLab extension is not enabled; run 'make clean' then 'make lab'"; exit 1; }
	$(BIN)/jupyter lab --port=$(PORT) --ServerApp.root_dir=$(CURDIR) $(ALLOW_ROOT) $(LAB_ARGS)

test: install
	$(BIN)/python -m pytest -n 2 --dist loadscope $(PYTEST_ARGS)

release: install
	$(BIN)/python -m course_utils.grading release

autograde: install
	$(BIN)/python -m course_utils.grading autograde --jobs $(JOBS)

feedback: install
	$(BIN)/python -m course_utils.grading feedback

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
