# sim/: the Verilator model of rtl/sparq_top.v, linked into build/sparq and
# every test binary as the "sim" device backend (host/src/board/sim_transport.c).
# The default build is the 16x16 array with LANES=4 (precision-scalable PE) and the
# protocol-3 features;
# a second, small one-lane build (Vsparq_top1: 4x4, LANES=1 as on the iCE40
# board) is linked in for the co-simulation (sparq_sim_create_model).
# Built -O3 with Verilator's OPT_FAST=-O3, single-threaded (faster than
# --threads for this size), FST tracing compiled in but off unless
# SPARQ_TRACE=file.fst is set.

VERILATOR      ?= verilator
VERILATOR_ROOT ?= $(shell $(VERILATOR) --getenv VERILATOR_ROOT 2>/dev/null)
SIM_DIR  := $(BUILD)/sim
SIM_MDIR := $(SIM_DIR)/obj
SIM_RTL  := $(shell sed 's/#.*//' rtl/sparq_top.f)
SIM_LIB  := $(SIM_MDIR)/Vsparq_top__ALL.a
SIM_VLIB := $(SIM_MDIR)/libverilated.a
SIM_SHIM := $(SIM_DIR)/sparq_sim.o
SIM_VFLAGS := --cc -O3 --x-assign fast --x-initial fast --trace-fst --top-module sparq_top \
              -Wno-fatal -CFLAGS -O3 -CFLAGS -fPIC
# protocol version 3 (docs/protocol.md): 4 activation banks, 2 result buffers, a weight store
# of 262144 entries per column, 16384 requant entries, 16 epilogue tables; a 4-byte host port
# (an FT601's 32-bit FIFO bus)
SIM_PARAMS  := -GLANES=4 -GXBANKS=4 -GRBUFS=2 -GWSTORE=262144 -GQDEPTH=16384 -GLUTS=16 -GPORT_BYTES=4
SIM1_MDIR   := $(SIM_DIR)/obj1
SIM1_LIB    := $(SIM1_MDIR)/Vsparq_top1__ALL.a
SIM1_PARAMS := -GLANES=1 -GROWS=4 -GCOLS=4 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64

$(SIM_LIB) $(SIM_VLIB) &: $(SIM_RTL) rtl/sparq_protocol.vh rtl/sparq_requant_fn.vh rtl/sparq_top.f sim/sim.mk
	@mkdir -p $(SIM_MDIR)
	$(VERILATOR) $(SIM_VFLAGS) $(SIM_PARAMS) -Mdir $(SIM_MDIR) -f rtl/sparq_top.f
	$(MAKE) --no-print-directory -C $(SIM_MDIR) -f Vsparq_top.mk OPT_FAST=-O3 OPT_SLOW=-O1 OPT_GLOBAL=-O2 \
	  VM_PARALLEL_BUILDS=0 Vsparq_top__ALL.a verilated.o verilated_fst_c.o verilated_threads.o
	cd $(SIM_MDIR) && rm -f libverilated.a && ar rcs libverilated.a verilated.o verilated_fst_c.o verilated_threads.o

$(SIM1_LIB): $(SIM_RTL) rtl/sparq_protocol.vh rtl/sparq_requant_fn.vh rtl/sparq_top.f sim/sim.mk
	@mkdir -p $(SIM1_MDIR)
	$(VERILATOR) $(SIM_VFLAGS) $(SIM1_PARAMS) --prefix Vsparq_top1 -Mdir $(SIM1_MDIR) -f rtl/sparq_top.f
	$(MAKE) --no-print-directory -C $(SIM1_MDIR) -f Vsparq_top1.mk OPT_FAST=-O3 OPT_SLOW=-O1 OPT_GLOBAL=-O2 \
	  VM_PARALLEL_BUILDS=0 Vsparq_top1__ALL.a

$(SIM_SHIM): sim/sparq_sim.cpp sim/sim_link.h host/include/sparq_sim.h $(SIM_LIB) $(SIM1_LIB)
	@mkdir -p $(dir $@)
	$(CXX) -O3 -std=c++17 -Wall -Wextra -Ihost/include -I$(SIM_MDIR) -I$(SIM1_MDIR) \
	  -isystem $(VERILATOR_ROOT)/include -isystem $(VERILATOR_ROOT)/include/vltstd -c $< -o $@

# The sim objects are plain C++; C binaries keep linking with $(CC) plus
# libstdc++ (LINK = $(CXX) would compile tests/unit/*.c as C++).
BOARD_OBJS += $(SIM_SHIM) $(SIM_LIB) $(SIM1_LIB) $(SIM_VLIB)
BOARD_LIBS += -lstdc++ -lz -pthread

# bench-accel: cycles, utilisation, sparsity speedups, link bytes and
# simulation speed on the Conformer GEMM shapes (sim/bench_accel.c).
$(BUILD)/bench_accel: sim/bench_accel.c $(LIBSPARQ) $(BOARD_OBJS)
	$(LINK) $(CFLAGS) -o $@ $< $(LIBSPARQ) $(BOARD_OBJS) $(BOARD_LIBS) $(LDLIBS)

.PHONY: bench-accel
bench-accel: $(BUILD)/bench_accel
	@mkdir -p $(BUILD)/bench
	$(BUILD)/bench_accel $(BUILD)/bench/accel.json
BENCH_TARGETS += bench-accel
