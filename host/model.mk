# Conformer-CTC model rules (issue 5). Included from the top-level Makefile:
#   -include host/model.mk
# make base-model : generate the default training corpus (if missing) and train
#                   configs/base.cfg on it; writes models/base.sparq.
# make bench-train: C trainer vs PyTorch on the same synthetic batch, both with
#                   2 OpenMP threads and OMP_WAIT_POLICY=PASSIVE (sparq train sets it
#                   itself; spinning waiters cost PyTorch 3x on a loaded machine).

BASE_CORPUS ?= $(BUILD)/base-corpus
BASE_HOURS ?= 3
BASE_EPOCHS ?= 7
BASE_RUN ?= $(BUILD)/base-run
BASE_TRAIN_FLAGS ?= --epochs $(BASE_EPOCHS) --lr 2e-3 --warmup 300 --batch-frames 6000 --seed 1

.PHONY: base-model bench-train
base-model: models/base.sparq

$(BASE_CORPUS)/train.jsonl: | $(BUILD)/sparq
	$(BUILD)/sparq data gen --out $(BASE_CORPUS) --hours $(BASE_HOURS) --dev-hours 0.15 --test-hours 0.15 --seed 1

# Resumes automatically if an earlier run was interrupted (Ctrl-C saves).
models/base.sparq: $(BASE_CORPUS)/train.jsonl configs/base.cfg | $(BUILD)/sparq
	@mkdir -p models
	$(BUILD)/sparq train --config configs/base.cfg --train $(BASE_CORPUS)/train.jsonl \
	  --dev $(BASE_CORPUS)/dev.jsonl --out $(BASE_RUN) $(BASE_TRAIN_FLAGS) \
	  $$(test -f $(BASE_RUN)/last.ckpt && echo --resume)
	cp $(BASE_RUN)/model.sparq $@.tmp && mv $@.tmp $@
	$(BUILD)/sparq eval --model $@ --data $(BASE_CORPUS)/dev.jsonl --json $(BASE_RUN)/dev.json
	$(BUILD)/sparq eval --model $@ --data $(BASE_CORPUS)/test.jsonl --json $(BASE_RUN)/test.json

BENCH_TARGETS += bench-train
bench-train: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@OMP_NUM_THREADS=2 $(BUILD)/sparq train --bench 5 --config configs/base.cfg --bench-json $(BUILD)/bench/train_c.json
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
	  OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/fixtures/bench_conformer_torch.py --config configs/base.cfg \
	    --steps 5 --c-json $(BUILD)/bench/train_c.json --out $(BUILD)/bench/train.json; \
	else echo "bench-train: /usr/bin/python3 has no torch; PyTorch side skipped"; \
	  cp $(BUILD)/bench/train_c.json $(BUILD)/bench/train.json; fi
