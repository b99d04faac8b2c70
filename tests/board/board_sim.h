// C interface of tests/board/board_sim.cpp: the board design (FX2 adapter +
// accelerator) under a cycle model of the FX2LP's slave FIFOs.
#ifndef SPARQ_BOARD_SIM_H
#define SPARQ_BOARD_SIM_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
struct bsim;
struct bsim *bsim_create(void);
void bsim_destroy(struct bsim *b);
void bsim_push(struct bsim *b, const uint8_t *d, size_t n);     // host -> EP2
size_t bsim_run_until(struct bsim *b, size_t want, uint64_t max_cycles); // committed EP6 bytes
size_t bsim_pull(struct bsim *b, uint8_t *out, size_t n);       // committed EP6 -> host
void bsim_step(struct bsim *b, uint64_t n);
void bsim_fpga_reset(struct bsim *b);                           // PD0 pulse
uint64_t bsim_cycles(const struct bsim *b);
uint64_t bsim_pktends(const struct bsim *b);
uint64_t bsim_violations(const struct bsim *b); // FX2 protocol errors seen (over/underrun, contention)
#ifdef __cplusplus
}
#endif
#endif
