#!/bin/sh
# Runs the board design under the FX2 model with the real host stack
# (tests/board/test_board_sim.c, built by rtl/board/board.mk).
BUILD=${BUILD:-build}
exec "$BUILD/board/test_board_sim"
