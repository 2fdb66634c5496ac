# 平湖退役军人服务助手 — `make run` starts the product, `make test` runs every check CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export VETBOT_DATA_DIR ?= $(CURDIR)/var
export HF_HUB_OFFLINE ?= 1  # no model hub at run time; a site with a mirror may set 0
export TRANSFORMERS_OFFLINE ?= 1
export TF_CPP_MIN_LOG_LEVEL := 2
# Defaults for the variables that endpoints.yml and credentials.yml read (see README).
export RASA_PORT ?= 5005
export ACTIONS_PORT ?= 5055
export CONSOLE_PORT ?= 8080
export ACTION_ENDPOINT_URL ?= http://127.0.0.1:$(ACTIONS_PORT)/webhook
export WECHAT_TOKEN ?=
export WECHAT_ENCODING_AES_KEY ?=
export WECHAT_APP_ID ?=
export WECHAT_APP_SECRET ?=
export WECHAT_API_BASE_URL ?= https://api.weixin.qq.com
MODEL_DIR := $(VETBOT_DATA_DIR)/models
MODEL     := $(MODEL_DIR)/vetbot.tar.gz
KB_STAMP  := $(VETBOT_DATA_DIR)/kb/.built
RASA_INPUTS := config.yml $(shell find bot/domain bot/data bot/dictionary -type f 2>/dev/null)
KB_INPUTS   := $(shell find knowledge -name '*.md' -o -name '*.py' -o -name '*.yml' 2>/dev/null) bot/dictionary/userdict.txt \
               booking/catalogue.yml booking/catalogue.py  # the document checklists come from the catalogue

.PHONY: run test check lint mutation install migrate data model validate slow-tests test-stories test-nlu clean

run: install migrate data model  ## set up everything that changed, then start the stack
	@scripts/run.sh

test: check validate model slow-tests test-stories test-nlu  ## what CI runs (fast checks first)

# Fast checks first: lint and the tests that need no server (two pytest workers, a file each).
check: lint migrate data
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not stack and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

# Mutation testing of the modules that carry the guarantees (long; not part of `make test`).
# MODULES="wechat_adapter/outbox.py" limits it to some; MUTATION_TIMEOUT bounds each module (s).
mutation: $(STAMP) $(KB_STAMP)
	$(BIN)/python scripts/mutation.py $(MODULES)

# Install only when the pins or the project metadata changed.
install: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $$(scripts/find-python310.sh) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==24.2"
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	@touch $@

# Storage migrations (Alembic): cheap when there is nothing to apply, so they run every time.
migrate: $(STAMP)
	@$(BIN)/vetbot db upgrade

# Converted embedding model + knowledge index (incremental; re-runs when the corpus changes).
data: $(KB_STAMP)
$(KB_STAMP): $(STAMP) $(KB_INPUTS)
	$(BIN)/vetbot kb build --quiet
	@touch $@

# Train only when the NLU data, stories, domain or config changed.
model: $(MODEL)
$(MODEL): $(STAMP) $(RASA_INPUTS)
	$(BIN)/rasa train --config config.yml --domain bot/domain --data bot/data \
		--out $(MODEL_DIR) --fixed-model-name vetbot --quiet

validate: $(STAMP)
	$(BIN)/rasa data validate --config config.yml --domain bot/domain --data bot/data

slow-tests: $(STAMP) $(MODEL) $(KB_STAMP)  ## the real servers end to end, and the long ones
	$(BIN)/python -m pytest -q -m "stack or slow"

test-stories: $(MODEL)
	$(BIN)/rasa test core --model $(MODEL) --stories tests/stories \
		--fail-on-prediction-errors --out $(VETBOT_DATA_DIR)/results/core

test-nlu: $(MODEL)
	$(BIN)/rasa test nlu --model $(MODEL) --nlu tests/nlu --out $(VETBOT_DATA_DIR)/results/nlu
	$(BIN)/python scripts/nlu_report.py $(VETBOT_DATA_DIR)/results/nlu/intent_report.json

clean:  ## remove what can be rebuilt; conversations, outbox and imported documents stay
	rm -rf $(VENV) $(MODEL_DIR) $(VETBOT_DATA_DIR)/kb/indexes $(KB_STAMP) $(VETBOT_DATA_DIR)/results $(VETBOT_DATA_DIR)/eval $(VETBOT_DATA_DIR)/bench
