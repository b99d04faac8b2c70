// sparq-layer: board
// C interface of the Verilator model of rtl/sparq_top.v (sim/sparq_sim.cpp).
// The model sees a byte FIFO in each direction, one byte per clock at most,
// exactly like the FX2 / FT245 FIFO port of a board.
#ifndef SPARQ_SIM_H
#define SPARQ_SIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sparq_sim;

// Creates the model and holds reset for a few cycles. FST waves go to the
// file named by the environment variable SPARQ_TRACE, if set.
struct sparq_sim *sparq_sim_create(void);
// The RTL builds sim/sim.mk links in: the default (16x16, LANES = 4, what
// sparq_device_default_config describes) and a one-lane array (LANES = 1,
// 4x4, WDEPTH = XDEPTH = 256, RDEPTH = 64, timeout 4096) for co-simulating
// the board's lane count. NULL for an unknown one.
#define SPARQ_SIM_DEFAULT 0
#define SPARQ_SIM_LANES1  1
struct sparq_sim *sparq_sim_create_model(int which);
// Runs final(), closes the trace, frees the model.
void sparq_sim_destroy(struct sparq_sim *s);
// Queues bytes for the device's rx port.
void sparq_sim_push(struct sparq_sim *s, const uint8_t *data, size_t n);
// Bytes queued for rx that the device has not taken yet.
size_t sparq_sim_rx_pending(const struct sparq_sim *s);
// Bytes the device has sent that were not pulled yet.
size_t sparq_sim_tx_available(const struct sparq_sim *s);
// Moves up to n sent bytes to out; returns how many.
size_t sparq_sim_pull(struct sparq_sim *s, uint8_t *out, size_t n);
// Runs n clock cycles.
void sparq_sim_step(struct sparq_sim *s, uint64_t n);
// Runs until at least `want` bytes are available, or until `max_quiet`
// cycles in a row passed in which no byte moved in either direction (the
// device neither took a queued byte nor sent one); returns the bytes
// available. A long command is never cut off while bytes keep moving.
size_t sparq_sim_run_until(struct sparq_sim *s, size_t want, uint64_t max_quiet);
// Clock cycles since creation.
uint64_t sparq_sim_cycles(const struct sparq_sim *s);
// When nonzero, the host stops taking tx bytes every other cycle (exercises
// the stall-output path).
void sparq_sim_set_tx_throttle(struct sparq_sim *s, int on);

#ifdef __cplusplus
}
#endif

#endif
