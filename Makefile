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
# nbgrader's plugin for the hub's exchange service (ngshare). Its metadata asks for
# jupyter-core<4.11.2, which nbgrader 0.9.6 cannot have; its code works with ours
# (tests/grading/test_class_attacks.py), so it is installed without its dependencies.
NGSHARE_EXCHANGE := ngshare-exchange==0.5.3
# nbgrader's four server extensions (the formgrader, the assignment and course
# lists, validation); `jupyter server extension enable nbgrader` is not one.
NBGRADER_SERVER_EXTENSIONS := $(addprefix nbgrader.server_extensions.,formgrader assignment_list course_list validate_assignment)

# nbgrader needs its helpers (alembic) on PATH, so every target runs with the
# venv's bin/ first.
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install bubblewrap sandbox-for-tests chromium hub lab test test-fast release autograde feedback clean collect export student-edition report

install: $(STAMP)

# Re-install whenever the pins change. torch and torchvision are installed in
# the same pip call as everything else so they always come as the pinned pair.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[course,test]'
	$(BIN)/python -m pip install --quiet --progress-bar off --no-deps $(NGSHARE_EXCHANGE)
	$(BIN)/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader >/dev/null
	@for extension in $(NBGRADER_SERVER_EXTENSIONS); do \
	  $(BIN)/jupyter server extension enable --sys-prefix $$extension >/dev/null 2>&1; done
	@listed=$$($(BIN)/jupyter server extension list 2>&1); for extension in $(NBGRADER_SERVER_EXTENSIONS); do \
	  echo "$$listed" | grep -q "$$extension.*enabled" \
	  || { echo "nbgrader's server extension $$extension is not enabled; see 'jupyter server extension list'"; exit 1; }; done
	@touch $(STAMP)

# Autograding runs every student kernel in a bubblewrap sandbox
# (course_utils/grading/sandbox.py). As root, bwrap is installed from Debian's
# packages when missing; otherwise this says what to run. On a machine without
# user namespaces, grade without the sandbox: make autograde COURSE_SANDBOX=off
bubblewrap:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing bubblewrap (the grading sandbox) with apt-get"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
	      || { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } \
	      || { echo "apt-get could not install bubblewrap"; exit 1; }; \
	  else \
	    echo "The grading sandbox needs bubblewrap (bwrap): run 'sudo apt-get install bubblewrap'."; \
	    echo "On a machine without user namespaces, grade without it: make autograde COURSE_SANDBOX=off"; \
	    exit 1; \
	  fi; }

# make test: as root, bubblewrap is installed when missing; without root and
# without bwrap the tests that need the sandbox skip, each saying so, and the
# rest still runs (autograde itself still requires it: see the target above).
sandbox-for-tests:
	@$(MAKE) --no-print-directory bubblewrap 2>/dev/null \
	  || echo "bubblewrap is missing and cannot be installed without root: the tests that need the grading sandbox will be skipped"

lab: install
	@$(BIN)/jupyter labextension list 2>&1 | grep -q '@jupyter/nbgrader.*enabled' \
	  || { echo "nbgrader's JupyterLab extension is not enabled; run 'make clean' then 'make lab'"; exit 1; }
	$(BIN)/jupyter lab --port=$(PORT) --ServerApp.root_dir=$(CURDIR) $(ALLOW_ROOT) $(LAB_ARGS)

# Two pytest workers share the machine's cores, so each notebook kernel gets one
# math thread: with two, tiny torch ops wait for a busy core (a lecture-06 cell
# that runs in under a second alone took 23 s; the whole run: 5:50 -> 5:22).
# The browser tests (tests/browser/: JupyterLab, Validate, the hub end to end)
# run after the rest: next to the grading tests on two cores, JupyterLab's pages
# time out. Among themselves they run in two workers, whole files each; the files
# that share one JupyterLab (lectures, Validate, the report page:
# tests/browser/conftest.py, JUPYTERLAB_FILES) on one, the hub's on the other.
# BROWSER_TESTS= leaves them out.
# Workers take whole test files, the longest first (tests/run_order.py, with
# tests/durations.json): xdist's own order, by number of tests, left a one-test
# file of a minute to run last beside an idle core.
BROWSER_TESTS ?= tests/browser
# Bytecode: many containers and CI images set PYTHONDONTWRITEBYTECODE, and then each of the run's few
# hundred Python processes (nbgrader, grading workers, kernels) compiles the course's modules again,
# about 0.1 CPU-s each, and each pytest process rewrites every test module's assertions again (about
# 1.5 CPU-s). So the course's modules are compiled first (the sandboxed kernels see them read-only), and
# the tests run with the variable unset: what they import is compiled once, into git-ignored __pycache__.
TEST_ENV := OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} PYTHONDONTWRITEBYTECODE=
test: install sandbox-for-tests chromium
	@$(BIN)/python -m compileall -q -j 0 course_utils
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder -rs --ignore=tests/browser $(PYTEST_ARGS)
	$(if $(BROWSER_TESTS),$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -rs $(BROWSER_TESTS))

# While editing: the tests that need no kernel, no root and no browser (pytest
# markers slow, root, browser; README, "For CI"), in under half a minute.
test-fast: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m pytest -m "not slow and not root and not browser" -p no:xdist --durations=5 $(PYTEST_ARGS)

# The browser tests drive Debian's chromium (Playwright's own browser download
# is not used). As root it is installed with apt-get when missing; otherwise the
# browser tests skip, each with a one-line reason.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing chromium (the browser tests) with apt-get"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
	      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
	      || echo "apt-get could not install chromium: the browser tests will be skipped"; \
	  else \
	    echo "The browser tests need chromium ('sudo apt-get install chromium'); without it they are skipped."; \
	  fi; }

# The class on one machine (deploy/jupyterhub/; README, "Running the course for
# a class"): as root, JupyterHub on HUB_IP:HUB_PORT (default 127.0.0.1:8000),
# Unix users with PAM login, every server in this .venv.
hub: install
	$(BIN)/python deploy/jupyterhub/course_hub.py start

# A class, in order (README, "For instructors"): release -> collect -> autograde ->
# (Formgrader) -> feedback -> export. The exchange is COURSE_EXCHANGE's folder
# (default nbgrader's /usr/local/share/nbgrader/exchange, used when it exists).
release: install
	$(BIN)/python -m course_utils.grading release

# make collect                      each student's latest submission from the hub's exchange service
#                                   (COURSE_EXCHANGE_URL, set in your hub server) or the exchange folder
# make collect ZIP=submissions.zip  a Canvas or Moodle download (ASSIGNMENT=name if not recognised)
# Not as root: collect reads what students wrote. Broken submissions go to assignments/quarantine/.
collect: install
	$(BIN)/python -m course_utils.grading collect $(if $(ZIP),--zip "$(ZIP)") $(if $(ASSIGNMENT),--assignment "$(ASSIGNMENT)")

autograde: install $(if $(filter off OFF 0 false no,$(COURSE_SANDBOX)),,bubblewrap)
	$(BIN)/python -m course_utils.grading autograde --jobs $(JOBS)

feedback: install
	$(BIN)/python -m course_utils.grading feedback

# assignments/grades.csv and grades_wide.csv (for the LMS) from the gradebook
export: install
	$(BIN)/python -m course_utils.grading export

# assignments/reports/<assignment>.html, -items.csv, -similarity.csv: the instructor's view of the graded
# batch (scores, hardest tests, failure messages, lateness, similar submissions); make autograde ends with it.
# Open the page from JupyterLab's file browser (assignments/reports/). ASSIGNMENT=name for one only.
report: install
	$(BIN)/python -m course_utils.grading report $(if $(ASSIGNMENT),--assignment "$(ASSIGNMENT)")

# dist/student/ and dist/student.tar.gz: lectures, released homework, course_utils
student-edition: install
	$(BIN)/python -m course_utils.grading student-edition --out dist/student

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
