# Conformer-CTC model rules (issue 5). Included from the top-level Makefile:
#   -include host/model.mk
# make base-model : generate the default training corpus (if missing) and train
#                   configs/base.cfg on it; writes models/base.sparq (BASE_MODEL).
# make bench-train: C trainer vs PyTorch on the same synthetic batch, both with
#                   2 OpenMP threads and OMP_WAIT_POLICY=PASSIVE (sparq train sets it
#                   itself; spinning waiters cost PyTorch 3x on a loaded machine).

# The recipe of issue 15 (docs/results.md "Base model recipe"): the open-vocabulary
# corpus with every English voice and channel effects, all four splits (corpus.json
# is written last, so a stopped generation starts over with --force); dropout
# 0.1 (configs/base.cfg); 24 epochs, cosine schedule after 500 warm-up steps.
# A long run: start it in the background and let it resume after any stop, e.g.
#   nohup nice -n 19 make base-model BASE_CORPUS=/work/corpus-base BASE_RUN=/work/base-run \
#     BASE_SPARQ=/work/base-run/sparq BASE_MODEL=/work/base-run/base.sparq > /work/base-run.log 2>&1 &
# (BASE_SPARQ: a copied binary, so rebuilding the tree does not touch the run;
# a BASE_SPARQ outside $(BUILD) has no rule, so make uses it as it is.)
BASE_CORPUS ?= $(BUILD)/base-corpus
BASE_HOURS ?= 3.5
BASE_EPOCHS ?= 24
BASE_RUN ?= $(BUILD)/base-run
BASE_SPARQ ?= $(BUILD)/sparq
BASE_MODEL ?= models/base.sparq
BASE_TRAIN_FLAGS ?= --epochs $(BASE_EPOCHS) --lr 2e-3 --warmup 500 --batch-frames 6000 --seed 1

.PHONY: base-model bench-train bench-asr
base-model: $(BASE_MODEL)

$(BASE_CORPUS)/corpus.json: | $(BASE_SPARQ)
	$(BASE_SPARQ) data gen --out $(BASE_CORPUS) --hours $(BASE_HOURS) --dev-hours 0.15 --test-hours 0.15 \
	  --seed 1 --force

# Resumes automatically if an earlier run was interrupted (Ctrl-C saves).
# Ends with greedy WER on dev (training voices), test-voices (held-out voices)
# and test-text (held-out text sources); the step log goes beside the model.
$(BASE_MODEL): $(BASE_CORPUS)/corpus.json configs/base.cfg | $(BASE_SPARQ)
	@mkdir -p $(dir $@)
	$(BASE_SPARQ) train --config configs/base.cfg --train $(BASE_CORPUS)/train.jsonl \
	  --dev $(BASE_CORPUS)/dev.jsonl --out $(BASE_RUN) $(BASE_TRAIN_FLAGS) \
	  $$(test -f $(BASE_RUN)/last.ckpt && echo --resume)
	cp $(BASE_RUN)/model.sparq $@.tmp && mv $@.tmp $@
	cp $(BASE_RUN)/train_log.tsv $(basename $@).train_log.tsv.tmp && \
	  mv $(basename $@).train_log.tsv.tmp $(basename $@).train_log.tsv
	for s in dev test-voices test-text; do \
	  $(BASE_SPARQ) eval --model $@ --data $(BASE_CORPUS)/$$s.jsonl --json $(BASE_RUN)/$$s.json \
	    --hyp $(BASE_RUN)/$$s.hyp.txt || exit 1; done

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
