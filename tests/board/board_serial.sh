#!/bin/sh
# The board design's bit-serial array against the C model: all 9 weight
# formats exact, busy and MAC counters equal (tests/board/test_board_serial.c,
# built by rtl/board/board.mk).
BUILD=${BUILD:-build}
exec "$BUILD/board/test_board_serial"
