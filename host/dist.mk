# MPI scale-out (issue 9, docs/scaling.md). Included from the top Makefile.
#   make          builds against Open MPI when pkg-config finds ompi-c (the
#                 Debian packages openmpi-bin + libopenmpi-dev), else without.
#   make MPI=0    never uses MPI; make MPI=1 requires it.
# Only host/src/base/dist.c looks at SPARQ_MPI; without it, and whenever sparq is
# not started by mpirun/srun, every command runs single-process.
# Switching MPI rebuilds dist.o (the stamp below records the choice).
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
ifneq ($(shell pkg-config --exists ompi-c 2>/dev/null && echo y),y)
$(error MPI=1 but pkg-config cannot find ompi-c: install openmpi-bin libopenmpi-dev (make deps))
endif
PKGS += ompi-c
DIST_DEFS := -DSPARQ_MPI=1
endif

$(BUILD)/gen/mpi.stamp: FORCE_MPI_STAMP
	@mkdir -p $(dir $@)
	@echo "MPI=$(MPI)" | cmp -s - $@ || echo "MPI=$(MPI)" > $@
.PHONY: FORCE_MPI_STAMP

$(BUILD)/obj/host/src/base/dist.o: host/src/base/dist.c $(BUILD)/gen/mpi.stamp | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DIST_DEFS) -c $< -o $@
$(BUILD)/asan/obj/host/src/base/dist.o: host/src/base/dist.c $(BUILD)/gen/mpi.stamp | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) $(DIST_DEFS) -c $< -o $@

# mpirun flags for one machine: more ranks than cores is allowed, CI runs as
# root, and no pinning: Open MPI binds 1-2 ranks to one core each, which
# would put all OpenMP threads of a rank on one core (and on a shared machine
# keeps a rank on a busy core).
MPIRUN ?= mpirun --oversubscribe --allow-run-as-root --bind-to none

# Training-step throughput of configs/base.cfg on the synthetic batch of
# bench-train, split across 1 and 2 ranks (sparq train --bench under mpirun):
# 1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread (the machine's 2
# cores either way), with the allreduce share of the step time.
MPI_BENCH_STEPS ?= 4
MPI_BENCH_RUNS := 1x1 1x2 2x1
BENCH_TARGETS += bench-mpi
.PHONY: bench-mpi
bench-mpi: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@echo "== data-parallel training step, configs/base.cfg, batch 24: MPI ranks x OpenMP threads"
ifeq ($(MPI),1)
	@hdr=1; for r in $(MPI_BENCH_RUNS); do np=$${r%x*}; th=$${r#*x}; \
	  $(MPIRUN) -np $$np $(BUILD)/sparq train --bench $(MPI_BENCH_STEPS) --config configs/base.cfg \
	    --threads $$th --bench-json $(BUILD)/bench/mpi_$$r.json > $(BUILD)/bench/mpi_$$r.txt || exit 1; \
	  if [ $$hdr = 1 ]; then cat $(BUILD)/bench/mpi_$$r.txt; hdr=0; else sed 1d $(BUILD)/bench/mpi_$$r.txt; fi; \
	done
	@get() { sed -n "s/.*\"$$2\": \([0-9.e+-]*\).*/\1/p" $(BUILD)/bench/mpi_$$1.json; }; \
	  a=$$(get 1x1 audio_s_per_s); b=$$(get 1x2 audio_s_per_s); c=$$(get 2x1 audio_s_per_s); \
	  awk -v a=$$a -v b=$$b -v c=$$c 'BEGIN { printf "2 ranks vs 1 rank x 1 thread: %.2fx; vs 1 rank x 2 threads: %.2fx\n", c / a, c / b }'; \
	  { printf '{"runs": ['; sep=''; for r in $(MPI_BENCH_RUNS); do printf '%s' "$$sep"; tr -d '\n' < $(BUILD)/bench/mpi_$$r.json; sep=', '; done; \
	    awk -v a=$$a -v b=$$b -v c=$$c 'BEGIN { printf "], \"speedup_2ranks_vs_1x1\": %.4f, \"speedup_2ranks_vs_1x2\": %.4f, \"note\": \"2 cores shared with other jobs\"}\n", c / a, c / b }'; \
	  } > $(BUILD)/bench/mpi.json.tmp && mv $(BUILD)/bench/mpi.json.tmp $(BUILD)/bench/mpi.json
	@echo "JSON: $(BUILD)/bench/mpi.json"
else
	@echo "bench-mpi: sparq built without MPI (make MPI=1); skipped"
	@echo '{"skipped": "built without MPI"}' > $(BUILD)/bench/mpi.json
endif
