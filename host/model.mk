# Conformer-CTC model rules (issue 5). Included from the top-level Makefile:
#   -include host/model.mk
# make base-model : generate the default training corpus (if missing) and train
#                   configs/base.cfg on it from the committed stage-1 model; writes
#                   models/base.sparq (BASE_MODEL). make base-model-stage1 retrains
#                   models/base-stage1.sparq from scratch.
# make bench-train: C trainer vs PyTorch on the same synthetic batch, both with
#                   2 OpenMP threads and OMP_WAIT_POLICY=PASSIVE (sparq train sets it
#                   itself; spinning waiters cost PyTorch 3x on a loaded machine).

# The recipe of issue 15 (docs/results.md "Base model recipe"), two stages on one
# corpus (the open-vocabulary text, every English voice, channel effects; all four
# splits; corpus.json is written last, so a stopped generation starts over with
# --force). The generator plans every utterance from (seed, split, index), so the
# first 3.5 h of a 20 h train split are byte for byte the 3.5 h corpus.
#   stage 1 (make base-model-stage1): configs/base.cfg (dropout 0.1) from scratch on
#     the first BASE_STAGE1_HOURS of train, 24 epochs, cosine after 500 warm-up steps;
#     the committed models/base-stage1.sparq is its result.
#   stage 2 (make base-model): --init the stage-1 model, all BASE_HOURS of train,
#     BASE_EPOCHS epochs at a lower peak learning rate: models/base.sparq.
# A long run: start it in the background and let it resume after any stop, e.g.
#   nohup nice -n 19 make base-model BASE_CORPUS=/work/corpus-20h BASE_RUN=/work/base-run \
#     BASE_SPARQ=/work/base-run/sparq BASE_MODEL=/work/base-run/base.sparq > /work/base-run.log 2>&1 &
# (BASE_SPARQ: a copied binary, so rebuilding the tree does not touch the run;
# a BASE_SPARQ outside $(BUILD) has no rule, so make uses it as it is.)
BASE_CORPUS ?= $(BUILD)/base-corpus
BASE_HOURS ?= 20
BASE_EPOCHS ?= 2
BASE_RUN ?= $(BUILD)/base-run
BASE_SPARQ ?= $(BUILD)/sparq
BASE_MODEL ?= models/base.sparq
BASE_TRAIN_FLAGS ?= --epochs $(BASE_EPOCHS) --lr 1e-3 --warmup 200 --batch-frames 6000 --seed 2 --save-every 200
BASE_STAGE1_HOURS ?= 3.5
BASE_STAGE1_RUN ?= $(BUILD)/base-run-stage1
BASE_STAGE1 ?= models/base-stage1.sparq
BASE_STAGE1_FLAGS ?= --epochs 24 --lr 2e-3 --warmup 500 --batch-frames 6000 --seed 1

.PHONY: base-model base-model-stage1 bench-train bench-asr
base-model: $(BASE_MODEL)

$(BASE_CORPUS)/corpus.json: | $(BASE_SPARQ)
	$(BASE_SPARQ) data gen --out $(BASE_CORPUS) --hours $(BASE_HOURS) --dev-hours 0.15 --test-hours 0.15 \
	  --seed 1 --force

# The first BASE_STAGE1_HOURS of train, in generation order (the utterance that
# crosses the limit is the generator's last one, so it is kept).
$(BASE_CORPUS)/train-stage1.jsonl: $(BASE_CORPUS)/corpus.json
	awk -v lim=$$(awk 'BEGIN { print $(BASE_STAGE1_HOURS) * 3600 }') \
	  '{ match($$0, /"duration":[0-9.]+/); if (tot >= lim) exit; tot += substr($$0, RSTART + 11, RLENGTH - 11); print }' \
	  $(BASE_CORPUS)/train.jsonl > $@.tmp && mv $@.tmp $@

# Each stage resumes automatically if an earlier run was interrupted (Ctrl-C
# saves) and ends with greedy WER on dev (training voices), test-voices (held-out
# voices) and test-text (held-out text sources); the step log goes beside the model.
define base_eval
	for s in dev test-voices test-text; do \
	  $(BASE_SPARQ) eval --model $(1) --data $(BASE_CORPUS)/$$s.jsonl --json $(2)/$$s.json \
	    --hyp $(2)/$$s.hyp.txt || exit 1; done
endef
define base_keep
	cp $(1)/model.sparq $(2).tmp && mv $(2).tmp $(2)
	cp $(1)/train_log.tsv $(basename $(2)).train_log.tsv.tmp && \
	  mv $(basename $(2)).train_log.tsv.tmp $(basename $(2)).train_log.tsv
endef

# Stage 1 is committed: make base-model uses it as it is (order-only, trained
# only when missing), and make base-model-stage1 retrains it.
define base_stage1
	@mkdir -p $(dir $(BASE_STAGE1))
	$(BASE_SPARQ) train --config configs/base.cfg --train $(BASE_CORPUS)/train-stage1.jsonl \
	  --dev $(BASE_CORPUS)/dev.jsonl --out $(BASE_STAGE1_RUN) $(BASE_STAGE1_FLAGS) \
	  $$(test -f $(BASE_STAGE1_RUN)/last.ckpt && echo --resume)
	$(call base_keep,$(BASE_STAGE1_RUN),$(BASE_STAGE1))
	$(call base_eval,$(BASE_STAGE1),$(BASE_STAGE1_RUN))
endef
$(BASE_STAGE1): | $(BASE_CORPUS)/train-stage1.jsonl $(BASE_SPARQ)
	$(base_stage1)
base-model-stage1: $(BASE_CORPUS)/train-stage1.jsonl configs/base.cfg | $(BASE_SPARQ)
	$(base_stage1)

$(BASE_MODEL): $(BASE_CORPUS)/corpus.json configs/base.cfg | $(BASE_SPARQ) $(BASE_STAGE1)
	@mkdir -p $(dir $@)
	$(BASE_SPARQ) train --config configs/base.cfg --init $(BASE_STAGE1) --train $(BASE_CORPUS)/train.jsonl \
	  --dev $(BASE_CORPUS)/dev.jsonl --out $(BASE_RUN) $(BASE_TRAIN_FLAGS) \
	  $$(test -f $(BASE_RUN)/last.ckpt && echo --resume)
	$(call base_keep,$(BASE_RUN),$@)
	$(call base_eval,$@,$(BASE_RUN))

BENCH_TARGETS += bench-train
bench-train: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@OMP_NUM_THREADS=2 $(BUILD)/sparq train --bench 5 --config configs/base.cfg --bench-json $(BUILD)/bench/train_c.json
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
	  OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/fixtures/bench_conformer_torch.py --config configs/base.cfg \
	    --steps 5 --c-json $(BUILD)/bench/train_c.json --out $(BUILD)/bench/train.json; \
	else echo "bench-train: /usr/bin/python3 has no torch; PyTorch side skipped"; \
	  cp $(BUILD)/bench/train_c.json $(BUILD)/bench/train.json; fi

# make bench-asr: sparq (greedy, beam + LM) beside PocketSphinx on dev, test-voices,
# test-text of the base corpus and pocketsphinx-testdata's human recordings; WER,
# CER and CPU real-time factor; table + build/bench/asr.json (scripts/bench_asr.sh).
# Not part of `make bench`: it needs the base corpus (make base-model generates it)
# and installs PocketSphinx from Debian when it is missing.
bench-asr: $(BUILD)/sparq
	@BUILD=$(BUILD) ASR_CORPUS=$(BASE_CORPUS) ASR_MODEL=$(BASE_MODEL) sh scripts/bench_asr.sh
