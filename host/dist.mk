# MPI scale-out (issue 9, docs/scaling.md). Included from the top Makefile.
#   make          builds against Open MPI when pkg-config finds ompi-c (the
#                 Debian packages openmpi-bin + libopenmpi-dev), else without.
#   make MPI=0    never uses MPI; make MPI=1 requires it.
# Only host/src/dist.c looks at SPARQ_MPI; without it, and whenever sparq is
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

$(BUILD)/obj/host/src/dist.o: host/src/dist.c $(BUILD)/gen/mpi.stamp | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DIST_DEFS) -c $< -o $@
$(BUILD)/asan/obj/host/src/dist.o: host/src/dist.c $(BUILD)/gen/mpi.stamp | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) $(DIST_DEFS) -c $< -o $@

# mpirun flags for one machine: more ranks than cores is allowed, and CI runs
# as root.
MPIRUN ?= mpirun --oversubscribe --allow-run-as-root

BENCH_TARGETS += bench-mpi
.PHONY: bench-mpi
bench-mpi: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@echo "== data-parallel training, 1 vs 2 MPI ranks"
	@BUILD=$(BUILD) MPIRUN="$(MPIRUN)" sh scripts/../tests/mpi/bench.sh $(BUILD)/bench/mpi.json
