# churn: `make` lists the targets. Pass Hydra overrides with ARGS="key=value ...".
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CHURN  := $(VENV)/bin/churn
STAMP  := $(VENV)/.installed
DEMO   := data/demo/transactions.parquet
ARGS   ?=

.DEFAULT_GOAL := help
.PHONY: help install demo-data demo-campaign demo-loop ingest train score features report outcomes uplift uplift-hillstrom export test test-spark test-all bench bench-quality lint format mlflow-ui mlflow-server clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install churn (editable, with the dev tools)

$(DEMO): | $(STAMP)
	$(CHURN) demo-data --out $(DEMO)

demo-data: $(STAMP) ## (Re)generate the demo shop in data/demo/ (20,000 customers, 3 years)
	$(CHURN) demo-data --out $(DEMO)

# The loop on the demo shop, as it would have run on 2025-06-30: a model of the history up
# to then, its list with a control group, a simulated campaign on it, and its outcomes.
LOOP      := outputs/demo-loop
LOOP_DATE := 2025-06-30
LOOP_ARGS := tracking.registered_model=churn-demo-past score.output_dir=$(LOOP)/scores
demo-loop: $(STAMP) $(DEMO) ## The closed loop on the demo shop: past list, simulated campaign, outcomes (outputs/demo-loop/)
	$(CHURN) train "data.query=\"SELECT * FROM read_parquet('$(DEMO)') WHERE ts <= TIMESTAMP '$(LOOP_DATE) 23:59:59.999999'\"" $(LOOP_ARGS) hydra.run.dir=$(LOOP)/train
	$(CHURN) score as_of=$(LOOP_DATE) score.share=0.2 $(LOOP_ARGS)
	$(CHURN) demo-campaign --scores $(LOOP)/scores/en --out data/demo/campaign
	$(CHURN) outcomes data.transactions=data/demo/campaign/transactions.parquet data.contacts=data/demo/campaign/contacts.csv $(LOOP_ARGS) $(ARGS)

demo-campaign: $(STAMP) $(DEMO) ## Simulate a campaign on the stored lists: data/demo/campaign/ (transactions, contact log, truth)
	$(CHURN) demo-campaign $(ARGS)

train: $(STAMP) $(DEMO) ## Train, evaluate and register the model (outputs/train/<time>/, mlflow.db)
	$(CHURN) train $(ARGS)

score: $(STAMP) $(DEMO) ## Score with models:/churn@champion into outputs/scores/<locale>/<as_of>/
	$(CHURN) score $(ARGS)

ingest: $(STAMP) $(DEMO) ## Validate an export into canonical Parquet + quarantine (ARGS="data.transactions=PATH")
	$(CHURN) ingest data=demo $(ARGS)

features: $(STAMP) $(DEMO) ## Write a feature table (outputs/features/<time>/features.parquet)
	$(CHURN) features $(ARGS)

outcomes: $(STAMP) $(DEMO) ## Outcomes of the stored lists: realised churn, campaign effect (outputs/scores/en/outcomes/)
	$(CHURN) outcomes $(ARGS)

uplift: $(STAMP) $(DEMO) ## Learn whom contacting changes from past lists and their control groups; register churn-uplift
	$(CHURN) uplift $(ARGS)

uplift-hillstrom: $(STAMP) ## The uplift model on Hillstrom's real e-mail experiment (registered as hillstrom-uplift)
	$(CHURN) uplift uplift.table=data/shops/hillstrom/hillstrom.csv.zip uplift.table_format=hillstrom tracking.registered_model=hillstrom $(ARGS)

report: $(STAMP) $(DEMO) ## Retention report: cohorts, retention by period, report.html (outputs/report/<time>/)
	$(CHURN) report $(ARGS)

export: $(STAMP) ## Write models:/churn@champion as a model folder (models/churn/); score with model.path=
	$(CHURN) export $(ARGS)

test: $(STAMP) ## Run the fast test suite (unit, config, small end-to-end)
	$(PY) -m pytest -m "not slow and not spark" $(ARGS)

test-spark: $(STAMP) ## Run the Spark engine's suites (installs the spark extra; needs Java 17+)
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	$(PY) -m pytest -m spark $(ARGS)

test-all: $(STAMP) ## Run every test, the slow and Spark suites too (installs the spark extra)
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	$(PY) -m pytest $(ARGS)

bench: $(STAMP) ## Measure stage speed and memory into benchmarks/results.md (ARGS="--sizes 1m")
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) benchmarks/run.py $(ARGS)

bench-quality: $(STAMP) ## Train on every shop at the defaults: model vs baselines into benchmarks/quality.md
	$(PY) benchmarks/quality.py $(ARGS)

lint: $(STAMP) ## Check style with ruff
	$(VENV)/bin/ruff check src pipelines tests benchmarks
	$(VENV)/bin/ruff format --check src pipelines tests benchmarks

format: $(STAMP) ## Reformat the code with ruff
	$(VENV)/bin/ruff check --fix src pipelines tests benchmarks
	$(VENV)/bin/ruff format src pipelines tests benchmarks

mlflow-server: $(STAMP) ## Team tracking server: PostgreSQL (data/postgres) + MLflow on 127.0.0.1:5000; use tracking=server
	$(PY) -m churn.tracking.server $(ARGS)

mlflow-ui: $(STAMP) ## Browse runs and the registry at http://127.0.0.1:5000
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

clean: ## Remove generated outputs (keeps .venv, the demo data and mlflow.db)
	rm -rf outputs multirun .pytest_cache .ruff_cache
