# lensflow — a toolkit of small C programs for a MovieLens recommender.
# `make` builds bin/; `make pipeline` runs the whole chain; `make test` the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := all

TOOLS := ml-fetch ml-split ml-train ml-eval ml-mlflow-log ml-pgload ml-serve
VERSION := 0.1.0
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

export LENSFLOW_HOME ?= $(CURDIR)/.lensflow

# ---- build configuration -------------------------------------------------
# BUILD holds objects, BIN the executables; `make asan` uses its own pair.
SAN ?=
# Only the command line may move BUILD/BIN: the test runner exports BUILD for
# its own use, and a make started from a test must not mix the two builds.
ifeq ($(origin BUILD),environment)
undefine BUILD
endif
ifeq ($(origin BIN),environment)
undefine BIN
endif
# FAILALLOC=1: the allocation-failure build (test/failalloc/failalloc.c; see
# "allocation failures" below): the ASan build, in build/failalloc.
FAILALLOC ?=
ifeq ($(FAILALLOC),1)
SAN := 1
BUILD ?= build/failalloc
BIN ?= build/failalloc/bin
FAILALLOC_WRAP := malloc calloc realloc strdup strndup asprintf open_memstream
TOOL_EXTRA_OBJ := $(BUILD)/test/failalloc/failalloc.o
LDFLAGS += $(FAILALLOC_WRAP:%=-Wl,--wrap=%)
endif
ifeq ($(SAN),1)
BUILD ?= build/asan
BIN ?= build/asan/bin
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
else
BUILD ?= build/release
BIN ?= bin
SANFLAGS :=
OPT := -O2
endif

CC ?= cc
PKGS := libpq libcurl jansson openblas libzip
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CPPFLAGS += -D_GNU_SOURCE -Ilib -DLENSFLOW_VERSION='"$(VERSION)"' -DLENSFLOW_COMMIT='"$(GIT_COMMIT)"'
CFLAGS ?= $(OPT) -g
CFLAGS += -std=c17 -Wall -Wextra -Werror -Wshadow -Wvla -Wformat=2 -MMD -MP \
	$(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS += $(SANFLAGS)

BLAS_LIBS := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
COMMON_LIBS := -lz -lm

LIBS_ml-fetch := -lcurl -lzip -lpq
LIBS_ml-split :=
LIBS_ml-train := $(BLAS_LIBS) -lpthread
LIBS_ml-eval := $(BLAS_LIBS) -ljansson -lpthread
LIBS_ml-mlflow-log := -lcurl -ljansson
LIBS_ml-pgload := -lpq -ljansson -lpthread
# store_schema.c embeds sql/schema.sql with .incbin: rebuild it when the schema changes
$(BUILD)/lib/store_schema.o: sql/schema.sql
# test helper of ml-pgload's tests (synthetic .lfe files), built with the unit tests
unit: $(BUILD)/test/lfe-gen
$(BUILD)/test/lfe-gen: $(BUILD)/test/tools/lfe-gen.o $(BUILD)/liblensflow.a
	$(CC) $(LDFLAGS) -o $@ $^ $(COMMON_LIBS)
# No OpenBLAS in ml-serve: its static TLS would eat civetweb's 100 KiB
# worker stacks (see README, "ml-serve and OpenBLAS").
LIBS_ml-serve := -lcivetweb -lpq -ljansson -lcurl -lpthread
# static.c embeds the web page (tools/ml-serve/static/) with .incbin: rebuild it when they change
$(BUILD)/tools/ml-serve/static.o: $(wildcard tools/ml-serve/static/*)
ALL_LIBS := -lcivetweb -lcurl -lzip -lpq -ljansson $(BLAS_LIBS) -lpthread

# ---- sources --------------------------------------------------------------
LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA := $(BUILD)/liblensflow.a
UNIT_SRC := $(wildcard test/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:test/unit/%.c=$(BUILD)/test/%)
UNIT_SUPPORT := $(filter-out $(UNIT_SRC),$(wildcard test/unit/*.c))

tool_src = $(wildcard tools/$(1)/*.c)
tool_obj = $(patsubst %.c,$(BUILD)/%.o,$(call tool_src,$(1)))

.PHONY: all tools unit clean help
all: tools unit ## build every tool into bin/ and the unit tests

tools: $(TOOLS:%=$(BIN)/%)
unit: $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

define TOOL_RULE
$(BIN)/$(1): $(call tool_obj,$(1)) $(LIBA) $(TOOL_EXTRA_OBJ)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call tool_obj,$(1)) $(TOOL_EXTRA_OBJ) $(LIBA) $$(LIBS_$(1)) $$(COMMON_LIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call TOOL_RULE,$(t))))

# Unit tests may use a tool's own parts: test/unit/test_<tool>_*.c links the
# objects of tools/<tool>/ except main.o.
unit_tool = $(word 1,$(subst _, ,$(patsubst test_%,%,$(1))))
define UNIT_RULE
$(BUILD)/test/$(1): $(BUILD)/test/unit/$(1).o $(UNIT_SUPPORT:%.c=$(BUILD)/%.o) $(LIBA) $$(filter-out %/main.o,$$(call tool_obj,ml-$(call unit_tool,$(1))))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$(filter-out $(LIBA),$$^) $(LIBA) $(ALL_LIBS) $(COMMON_LIBS)
endef
$(foreach u,$(UNIT_SRC:test/unit/%.c=%),$(eval $(call UNIT_RULE,$(u))))


# Test helpers (test/tools/*.c): small programs the bats suites call, e.g.
# lfe-topk (the model's own top-k from a .lfe). Built into $(BUILD)/test-tools.
TEST_TOOL_SRC := $(wildcard test/tools/*.c)
TEST_TOOL_BIN := $(TEST_TOOL_SRC:test/tools/%.c=$(BUILD)/test-tools/%)
unit: $(TEST_TOOL_BIN)
$(BUILD)/test-tools/%: $(BUILD)/test/tools/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBA) $(ALL_LIBS) $(COMMON_LIBS)
# ml-synth's catalogue writers live in test/tools/synth/ (one program per test/tools/*.c)
$(BUILD)/test-tools/ml-synth: $(patsubst %.c,$(BUILD)/%.o,$(wildcard test/tools/synth/*.c))

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- the pipeline ------------------------------------------------------------
# `make pipeline`: install what is missing, build, start the embedded services
# unless DATABASE_URL / MLFLOW_TRACKING_URI point elsewhere, then run the chain
# as file targets in a new run directory and print ONE JSON line on stdout
# (also $LENSFLOW_HOME/pipeline.json). Everything else goes to stderr.
SEED ?= 42
MODEL_NAME ?= lensflow
EXPERIMENT ?= lensflow
TRAIN_FLAGS ?=
# ml-eval ranks at most this many test users (a seeded sample; all of ML-100k's 943)
EVAL_USERS ?= 20000
# DATASET: the MovieLens release (ml-fetch --dataset): ml-100k, ml-1m, ml-10m,
# ml-20m, ml-25m, ml-32m, ml-latest-small; recorded as the run's `dataset` param.
DATASET ?= ml-100k
# Offline machines: a copy of ml-100k beside the checkout is used when
# LENSFLOW_DATA_URL is unset (ml-fetch's own default is GroupLens' archive).
ifeq ($(DATASET),ml-100k)
export LENSFLOW_DATA_URL ?= $(firstword $(abspath $(wildcard ../shared/data/ml-100k ../ml-100k)))
endif
SERVICES_ENV = $(LENSFLOW_HOME)/services.env
# Sources services.env for what the environment does not already give.
WITH_SERVICES = set -a; [ -n "$${DATABASE_URL:-}" ] && keep_db=$$DATABASE_URL; \
	[ -n "$${MLFLOW_TRACKING_URI:-}" ] && keep_ml=$$MLFLOW_TRACKING_URI; \
	[ -f $(SERVICES_ENV) ] && . $(SERVICES_ENV); \
	[ -n "$${keep_db:-}" ] && DATABASE_URL=$$keep_db; [ -n "$${keep_ml:-}" ] && MLFLOW_TRACKING_URI=$$keep_ml; set +a;

.PHONY: pipeline deps services-up serve stop run-chain
deps: ## install missing Debian packages (as root) and the Python-packaged servers into .venv
	@scripts/deps >&2

services-up: deps
	@if [ -z "$${DATABASE_URL:-}" ] && [ -z "$${MLFLOW_TRACKING_URI:-}" ]; then scripts/services up >&2; \
	elif [ -z "$${DATABASE_URL:-}" ]; then scripts/services up --only pg >&2; \
	elif [ -z "$${MLFLOW_TRACKING_URI:-}" ]; then scripts/services up --only mlflow >&2; fi

pipeline: services-up ## fetch → split → train → evaluate → register → load → promote; one JSON line
	@$(MAKE) -s --no-print-directory tools >&2
	@run=$(LENSFLOW_HOME)/runs/$$(date -u +%Y%m%dT%H%M%S.%NZ); mkdir -p $$run; \
	$(WITH_SERVICES) \
	if ! $(MAKE) -s --no-print-directory run-chain W=$$run >&2; then \
		read -r step code <$$run/failed.tsv 2>/dev/null || { step=unknown; code=2; }; \
		echo "pipeline: step $$step failed (exit $$code); its files are in $$run" >&2; exit $$code; \
	fi; \
	cp $$run/pipeline.json $(LENSFLOW_HOME)/pipeline.json.tmp && \
	mv $(LENSFLOW_HOME)/pipeline.json.tmp $(LENSFLOW_HOME)/pipeline.json && \
	cat $$run/pipeline.json

ifdef W
export W SEED MODEL_NAME EXPERIMENT TRAIN_FLAGS EVAL_USERS GIT_COMMIT DATASET LIVING \
	CHALLENGER_SHARE MIN_IMPRESSIONS ONLINE_WINDOW ALPHA
export BIN := $(abspath $(BIN))
STEP := scripts/pipeline-step
run-chain: $(W)/pipeline.json
$(W)/ratings.tsv: ; @$(STEP) fetch-ratings
$(W)/movies.tsv: ; @$(STEP) fetch-movies
$(W)/train.tsv $(W)/test.tsv &: $(W)/ratings.tsv ; @$(STEP) split
$(W)/model.lfe $(W)/losses.tsv $(W)/params.tsv &: $(W)/train.tsv ; @$(STEP) train
$(W)/metrics.tsv: $(W)/model.lfe $(W)/train.tsv $(W)/test.tsv ; @$(STEP) evaluate
$(W)/baseline.tsv: $(W)/train.tsv $(W)/test.tsv ; @$(STEP) baseline
$(W)/run.tsv: $(W)/metrics.tsv $(W)/baseline.tsv $(W)/model.lfe $(W)/losses.tsv $(W)/params.tsv ; @$(STEP) register
$(W)/catalogue.done: $(W)/movies.tsv $(W)/ratings.tsv ; @$(STEP) catalogue && touch $@
$(W)/loaded.done: $(W)/run.tsv $(W)/catalogue.done ; @$(STEP) load && touch $@
$(W)/promoted.tsv: $(W)/loaded.done ; @$(STEP) promote
$(W)/pipeline.json: $(W)/promoted.tsv ; @$(STEP) report
endif

export LENSFLOW_LISTEN ?= 127.0.0.1:8000
serve: services-up ## serve the champion on $LENSFLOW_LISTEN (foreground)
	@$(MAKE) -s --no-print-directory $(BIN)/ml-serve >&2
	@$(WITH_SERVICES) exec $(BIN)/ml-serve --listen $(LENSFLOW_LISTEN) --model-name $(MODEL_NAME)

stop: ## stop the embedded services of this $LENSFLOW_HOME
	@scripts/services down

# ---- tests, sanitizers, lint ----------------------------------------------------
# The suite runs against its own services under .lensflow/test, never the user's:
# scripts/with-services starts them and stops the ones it started when the run
# ends (also on a failure or ^C); KEEP_SERVICES=1 leaves them up for re-runs.
TEST_HOME := $(CURDIR)/.lensflow/test
# their build uses every core, unless make was given -j itself (expanded in the recipe,
# where MAKEFLAGS holds it)
CORES_UNLESS_J = $(if $(findstring -j,$(MAKEFLAGS)),,-j$(shell nproc))
.PHONY: test asan lint install
test: ## build and run the whole suite (C unit tests + bats) against real services
	@scripts/deps --test
	@$(MAKE) -s --no-print-directory $(CORES_UNLESS_J) all
	@LENSFLOW_TEST_HOME=$(TEST_HOME) BUILD=$(BUILD) LENSFLOW_BIN=$(abspath $(BIN)) \
	  scripts/with-services $(TEST_HOME) test/run

asan: ## the whole suite against an ASan + UBSan build (build/asan)
	@scripts/deps --test
	@$(MAKE) -s --no-print-directory $(CORES_UNLESS_J) SAN=1 all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 LENSFLOW_TEST_HOME=$(TEST_HOME) BUILD=build/asan LENSFLOW_BIN=$(abspath build/asan/bin) \
	 scripts/with-services $(TEST_HOME) test/run

lint: ## cppcheck and clang-tidy (.clang-tidy) over lib/ and tools/, bash -n over the scripts
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
	  --suppress=missingIncludeSystem --inline-suppr -D_GNU_SOURCE -I lib lib tools test/tools
	printf '%s\n' $(LIB_SRC) $(foreach t,$(TOOLS),$(call tool_src,$(t))) | \
	  xargs -P $$(nproc) -I{} clang-tidy --quiet {} -- $(CPPFLAGS) -std=c17 $(PKG_CFLAGS) 2>&1 | \
	  grep -v -E '^[0-9]+ warnings? generated' ; test $${PIPESTATUS[1]} -eq 0
	for f in scripts/* test/run; do bash -n $$f || exit 1; done

# ---- allocation failures (SQLite's test_malloc idea)
# `make FAILALLOC=1 failalloc-tools`: the tools of test/bats/failalloc.bats in
# an ASan + UBSan build (build/failalloc) whose own allocations go through
# test/failalloc/failalloc.c (-Wl,--wrap): LENSFLOW_FAIL_ALLOC=N fails the Nth.
FAILALLOC_TOOLS := ml-fetch ml-split ml-train ml-eval ml-mlflow-log ml-pgload
.PHONY: failalloc-tools
failalloc-tools:
	@$(MAKE) -s --no-print-directory FAILALLOC=1 $(FAILALLOC_TOOLS:%=build/failalloc/bin/%)

PREFIX ?= /usr/local
install: tools ## install the tools into $(PREFIX)/bin
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(TOOLS:%=$(BIN)/%) $(DESTDIR)$(PREFIX)/bin/

clean: ## remove build products (not $LENSFLOW_HOME)
	rm -rf build bin

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# ---- operations: compose, monitoring, retrain
# Compose: Docker's `docker compose` plugin when there is one, else the standalone docker-compose.
COMPOSE = $(shell if docker compose version >/dev/null 2>&1; then echo docker compose; \
	elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi) \
	--env-file $(if $(wildcard compose/.env),compose/.env,compose/.env.example) -f compose/docker-compose.yml
.PHONY: up down monitor retrain k8s-check
k8s-check: ## validate k8s/ offline: kustomize, kubernetes-validate, CRD schemas, checkov, yamllint
	@scripts/deps --k8s --no-python >&2
	@scripts/k8s-check

up: ## the Compose stack (compose/.env from compose/.env.example first); ports on 127.0.0.1
	@test -f compose/.env || { echo "make up: copy compose/.env.example to compose/.env and set its secrets" >&2; exit 78; }
	GIT_COMMIT=$(GIT_COMMIT) $(COMPOSE) up -d --build

down: ## stop the Compose stack (volumes are kept)
	$(COMPOSE) down

monitor: ## Debian's prometheus scraping the local ml-serve (LENSFLOW_LISTEN) with the repo's rules
	scripts/monitor

retrain: ## what cron runs: the pipeline under a lock; log and textfile metrics in LENSFLOW_HOME
	scripts/retrain

.PHONY: promote
promote: ## the online gate: promote the challenger when it beats the champion (pass|fail|wait)
	@$(MAKE) -s --no-print-directory tools >&2
	@$(WITH_SERVICES) BIN=$(abspath $(BIN)) MODEL_NAME=$(MODEL_NAME) scripts/promote

# ---- fuzzing (libFuzzer, clang)
# One libFuzzer target per parser, test/fuzz/fuzz_<name>.c, built with clang's
# -fsanitize=fuzzer,address,undefined into build/fuzz/ (lib/ and the tools'
# parts are compiled again there with coverage, never into build/release).
# `make fuzz` runs each for FUZZ_SECONDS over its committed seeds and
# regressions, keeping what it finds in build/fuzz/corpus/<name> (not
# committed) and crashes in build/fuzz/crashes/<name>/. `make test` runs the
# short version (test/bats/fuzz.bats). FUZZ_TARGETS=name… picks some.
FUZZ_CC ?= clang
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c17 -g -O1 -Wall -Wextra -MMD -MP $(FUZZ_SAN) -D_GNU_SOURCE -Ilib \
	-DLENSFLOW_VERSION='"$(VERSION)"' -DLENSFLOW_COMMIT='"fuzz"' $(PKG_CFLAGS)
FUZZ_LIBS := -lcivetweb -lcurl -lpq -ljansson -lz -lm -lpthread
FUZZ_LIBA := $(FUZZ_BUILD)/liblensflow.a
# the tools' parts a target calls (their main.o never; routes.c is included by serve_path)
fuzz_tool_obj = $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(filter-out %/main.c $(2),$(wildcard tools/$(1)/*.c)))
FUZZ_OBJ_serve_body := $(call fuzz_tool_obj,ml-serve)
FUZZ_OBJ_serve_path := $(call fuzz_tool_obj,ml-serve,tools/ml-serve/routes.c)
FUZZ_OBJ_mlflow_answer := $(call fuzz_tool_obj,ml-mlflow-log)
FUZZ_OBJ_mlflow_inputs := $(call fuzz_tool_obj,ml-mlflow-log)
# kept: they are shared by several targets and not worth rebuilding
.SECONDARY: $(call fuzz_tool_obj,ml-serve) $(call fuzz_tool_obj,ml-mlflow-log)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%) ## build the libFuzzer targets (clang) into build/fuzz

fuzz: fuzz-build ## run every fuzz target for FUZZ_SECONDS (300) each; new inputs stay in build/fuzz
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes/$$t; \
	  dict=; [ -f test/fuzz/$$t.dict ] && dict=-dict=test/fuzz/$$t.dict; \
	  regs=; [ -d test/fuzz/regressions/$$t ] && regs=test/fuzz/regressions/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s" >&2; \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
	    -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t/ $(FUZZ_BUILD)/corpus/$$t \
	    test/fuzz/corpus/$$t $$regs || exit 1; \
	done

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIBA): $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
	rm -f $@ && ar rcs $@ $^

# a target links the tool objects it names in FUZZ_OBJ_<name> (second expansion)
.SECONDEXPANSION:
$(FUZZ_BUILD)/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_LIBA) $$(FUZZ_OBJ_$$*)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ_$*) $(FUZZ_LIBA) $(FUZZ_LIBS)

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

# ---- benchmarks
# `make bench`: the measurements of issues 16 and 25 in one run (test/bench/run), written to
# test/bench/results/*.json and rendered into test/bench/results/README.md. The
# bench has its own $LENSFLOW_HOME (.lensflow/bench) so the user's state is never touched.
# Sub-targets run one part: bench-pipeline, bench-serve, bench-catalogue (serving at
# synthetic catalogue sizes), bench-catalogue-set (the same measurements on a set already
# loaded: BENCH_SET_MODEL, BENCH_SET_LFE, BENCH_SET_RATINGS; docs/scale.md), bench-ingest,
# bench-profile, bench-python (the Python service of 118e941; its install takes minutes), bench-living (issue 25: POST /feedback, impressions
# on/off, the online gate's A/A and A/B simulations). `make bench-scale` (not in `make bench`: about
# 40 min on 2 cores) runs synthetic releases of 100k, 1M, 10M and 25M ratings through every
# stage and writes test/bench/results/scale-growth.{json,md,svg} (BENCH_GROWTH="1m 10m" for fewer).
BENCH_HOME ?= $(CURDIR)/.lensflow/bench
BENCH_SRC := $(wildcard test/bench/*.c)
BENCH_BIN := $(BENCH_SRC:test/bench/%.c=$(BUILD)/bench/%)
BENCH_PARTS := pipeline serve catalogue catalogue-set scale ingest profile python living
.PHONY: bench bench-build bench-report bench-replicas $(BENCH_PARTS:%=bench-%)
$(BUILD)/bench/%: $(BUILD)/test/bench/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(BLAS_LIBS) -lpq -lpthread $(COMMON_LIBS)
# civetweb's worker threads and OpenBLAS's static TLS do not mix (as in ml-serve)
$(BUILD)/bench/minserve: $(BUILD)/test/bench/minserve.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcivetweb -lpq -lpthread $(COMMON_LIBS)
bench-build: tools $(BENCH_BIN) $(BUILD)/test/lfe-gen $(BUILD)/test-tools/lfe-half $(BUILD)/test-tools/store-query
bench: ## benchmarks of issues 16 and 25 → test/bench/results/ (about 22 min)
	@scripts/deps >&2
	@$(MAKE) -s --no-print-directory bench-build
	@LENSFLOW_HOME=$(BENCH_HOME) BUILD=$(BUILD) BIN=$(abspath $(BIN)) TRAIN_FLAGS="$(TRAIN_FLAGS)" test/bench/run all
$(BENCH_PARTS:%=bench-%): bench-%:
	@$(MAKE) -s --no-print-directory bench-build
	@LENSFLOW_HOME=$(BENCH_HOME) BUILD=$(BUILD) BIN=$(abspath $(BIN)) TRAIN_FLAGS="$(TRAIN_FLAGS)" test/bench/run $*
bench-replicas: bench-build ## one ml-serve on one hot standby: req/s, CPU per request → test/bench/results/replicas.json
	@LENSFLOW_HOME=$(CURDIR)/.lensflow/bench-replicas BUILD=$(BUILD) BIN=$(abspath $(BIN)) \
	  TRAIN_FLAGS="$(TRAIN_FLAGS)" test/bench/replicas
bench-report: ## render test/bench/results/README.md from the JSON files
	@test/bench/render

# ---- reliability: soak, valgrind
# test/reliability/*.c: the reliability tests' clients (rl-load: paced keep-alive
# load counted by status; rl-slow: slow senders; rl-bodyfirst: writes its whole
# body before reading), built with the unit tests into $(BUILD)/reliability.
# `make valgrind`: memcheck over every tool's happy path and ml-serve under load
# (test/bats/valgrind.bats at full length; `make test` runs its short version).
# `make soak`: scripts/soak for SOAK_SECONDS (600) at half the measured
# saturation → test/bench/results/soak.json (`make test` runs 20 s of it).
REL_SRC := $(wildcard test/reliability/*.c)
REL_BIN := $(REL_SRC:test/reliability/%.c=$(BUILD)/reliability/%)
unit: $(REL_BIN)
$(BUILD)/reliability/%: test/reliability/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread
SOAK_SECONDS ?= 600
.PHONY: soak valgrind
valgrind: ## valgrind memcheck: every tool's happy path, ml-serve under load (0 lost, 0 errors)
	@$(MAKE) -s --no-print-directory all
	@VALGRIND_FULL=1 LENSFLOW_TEST_HOME=$(TEST_HOME) BUILD=$(BUILD) LENSFLOW_BIN=$(abspath $(BIN)) \
	  scripts/with-services $(TEST_HOME) bats --tap test/bats/valgrind.bats
soak: ## ml-serve for SOAK_SECONDS (600) at half its saturation: errors, RSS, fds, threads
	@$(MAKE) -s --no-print-directory all
	@LENSFLOW_TEST_HOME=$(TEST_HOME) BUILD=$(BUILD) BIN=$(abspath $(BIN)) \
	  scripts/with-services $(TEST_HOME) scripts/soak --seconds $(SOAK_SECONDS) --out test/bench/results/soak.json

# ---- model quality
# `make quality`: scripts/quality trains ml-train's ranking models (blend, the
# default; ease; softmax-mf) on the ms-stratified split for seeds 42..46,
# scores them with ml-eval (NDCG@1/5/10/20, P/R/MAP@10, coverage, novelty),
# the rating head on u1 (RMSE), and writes the table with the published
# anchors beside ours to test/bench/results/quality.{md,json,tsv} (and
# quality-runs.tsv, every seed); logged to MLflow (experiment
# lensflow-quality; the embedded MLflow is started unless MLFLOW_TRACKING_URI
# is set). About 5 minutes on 2 cores.
# scripts/tune is the hyperparameter search (validation carved from train).
#
# The pipeline's ranking model is `--model auto`: on ML-100k the blend of EASE,
# iALS and the softmax MF (ml-train's default), byte for byte (ms-stratified seed
# 42 NDCG@10 0.489 against the softmax MF's 0.479; see quality.md); past 2M
# ratings EASE + iALS (docs/scale.md). A TRAIN_FLAGS given on the command line or
# in the environment (cron's retrain.env, the tests) is used as it is.
#
# It is served in its compact form (issue 28): --serve-dim 32, the rank-32
# approximation of the blend's 401-dimension scores, chosen by scripts/serve-dim
# on validation splits carved from train (seeds 42, 43: the smallest width within
# 0.002 of the full width's validation NDCG@10); seeds 42..46 on test: NDCG@10
# 0.4902 against the full width's 0.4907 (test/bench/results/quality-compact.md).
# Only the Makefile's empty default is replaced: a TRAIN_FLAGS given is used as is.
ifeq ($(origin TRAIN_FLAGS),file)
TRAIN_FLAGS := --model auto --serve-dim 32
endif
.PHONY: quality
quality: deps ## model quality over seeds 42..46, anchors beside ours → test/bench/results/quality.*
	@[ -n "$${MLFLOW_TRACKING_URI:-}" ] || scripts/services up --only mlflow >&2
	@$(MAKE) -s --no-print-directory $(BIN)/ml-fetch $(BIN)/ml-split $(BIN)/ml-train \
	  $(BIN)/ml-eval $(BIN)/ml-mlflow-log >&2
	@$(WITH_SERVICES) BIN=$(abspath $(BIN)) scripts/quality
