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

LIBS_ml-fetch := -lcurl -lzip
LIBS_ml-split :=
LIBS_ml-train := $(BLAS_LIBS) -lpthread
LIBS_ml-eval := $(BLAS_LIBS) -lpthread
LIBS_ml-mlflow-log := -lcurl -ljansson
LIBS_ml-pgload := -lpq
# No OpenBLAS in ml-serve: its static TLS would eat civetweb's 100 KiB
# worker stacks (see README, "ml-serve and OpenBLAS").
LIBS_ml-serve := -lcivetweb -lpq -ljansson -lpthread
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
$(BIN)/$(1): $(call tool_obj,$(1)) $(LIBA)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call tool_obj,$(1)) $(LIBA) $$(LIBS_$(1)) $$(COMMON_LIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call TOOL_RULE,$(t))))

# Unit tests may use a tool's own parts: test/unit/test_<tool>_*.c links the
# objects of tools/<tool>/ except main.o.
unit_tool = $(word 1,$(subst _, ,$(patsubst test_%,%,$(1))))
define UNIT_RULE
$(BUILD)/test/$(1): $(BUILD)/test/unit/$(1).o $(UNIT_SUPPORT:%.c=$(BUILD)/%.o) $(LIBA) $$(filter-out %/main.o,$$(call tool_obj,ml-$(call unit_tool,$(1))))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $(ALL_LIBS) $(COMMON_LIBS)
endef
$(foreach u,$(UNIT_SRC:test/unit/%.c=%),$(eval $(call UNIT_RULE,$(u))))

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

clean: ## remove build products (not $LENSFLOW_HOME)
	rm -rf build bin

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
