#!/bin/sh
# The shipped FX2 firmware ($BUILD/firmware/sparq_fx2.ihx) as 8051 code in
# ucsim's s51 (Debian sdcc-ucsim): runs from reset to the main loop and
# checks the register writes of init(), the device descriptor in code
# memory, and vendor requests fed through the SETUP registers.
#
# What s51 cannot emulate: the FX2 is an 8051 core plus a USB engine. s51
# models the core (and 8052 timers/UART), not the USB SIE, the endpoint
# FIFOs, GPIF/slave FIFO, renumeration, interrupts from the USB engine or
# IFCLK. FX2 registers at 0xE600.. are plain xdata RAM here: writes are
# visible, but nothing reacts to them (a FIFORESET resets nothing, EP0BCL
# sends nothing, EPxCS busy bits never move), xdata starts with random
# bytes, and SFRs like IOD (0xB0) are whatever the 8052 model keeps there
# (P3). So a SETUP is emulated by writing SETUPDAT and the SUDAV flag the
# ISR would set; the reply is read back from EP0BUF/EP0BCL/EP0CS.
set -u
BUILD=${BUILD:-build}
FW="$BUILD/firmware"
T=$(mktemp -d /tmp/sparq_s51.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

if ! command -v s51 > /dev/null; then
    echo "not ok 1 - s51 missing: apt-get install sdcc-ucsim (scripts/deps.sh)"
    exit 1
fi
# Addresses from the linker's relocated listings.
label() { sed -n "s/^ *\([0-9A-F]\{6\}\) *[0-9]* *$2:.*/0x\1/p" "$FW/$1.rst" | head -1; }
LOOP=$(grep -A1 'lcall	_init' "$FW/fx2_main.rst" | sed -n '2s/^ *\([0-9A-F]\{6\}\).*/0x\1/p')
FLAG=$(label fx2_main _flag_setup)
DESC=$(label fw_descriptors _dev_desc)
echo "# main loop $LOOP, flag_setup $FLAG, dev_desc $DESC"

run_s51() { # extra commands after reaching the main loop -> $T/out
    {
        echo "load \"$FW/sparq_fx2.ihx\""
        echo "break $LOOP"
        echo "run"
        cat
        echo "quit"
    } > "$T/cmd"
    timeout 60 s51 -t 8052 -C "$T/cmd" < /dev/null > "$T/out" 2>&1
}
# value ADDR: the byte a `dump MEM ADDR ADDR` printed (xram/rom lines "0xADDR  vv",
# named SFRs "0xADDR NAME: 0b... 0xvv")
value() { awk -v a="$1" '$1 == a { if ($2 ~ /:$/) print $4; else print "0x" $2; exit }' "$T/out"; }
expect() { # ADDR, wanted value (hex), mask (default 0xff)
    got=$(value "$1")
    m=${3:-0xff}
    echo "$1: $got (want $2 under mask $m)"
    [ -n "$got" ] && [ $((got & m)) -eq $(($2 & m)) ]
}

{
    for a in 0xe600 0xe601 0xe602 0xe60b 0xe612 0xe613 0xe614 0xe615 0xe618 0xe61a 0xe624 0xe625 0xe65c 0xe680; do
        echo "dump xram $a $a"
    done
    for a in 0xb0 0xb5 0xa8 0xe8; do echo "dump sfr $a $a"; done
    i=0
    while [ $i -lt 18 ]; do
        printf 'dump rom 0x%x 0x%x\n' $((DESC + i)) $((DESC + i))
        i=$((i + 1))
    done
} | run_s51
init_ok() {
    grep -q "Stop at $(printf '0x%06x' $((LOOP))).*Breakpoint" "$T/out" || { cat "$T/out"; return 1; }
    expect 0xe600 0x10 && expect 0xe601 0xa3 && expect 0xe602 0xe8 && expect 0xe60b 0x03 &&
        expect 0xe612 0xa2 && expect 0xe613 0x00 && expect 0xe614 0xe2 && expect 0xe615 0x00 &&
        expect 0xe618 0x10 && expect 0xe61a 0x08 && expect 0xe624 0x02 && expect 0xe625 0x00 &&
        expect 0xe65c 0x31 && expect 0xe680 0x02 0x0a && expect 0xb0 0x0b && expect 0xb5 0x3b &&
        expect 0xa8 0x80 0x80 && expect 0xe8 0x01 0x01
}
check "reset -> main loop: CPUCS, IFCONFIG, REVCTL, EP config, FIFO modes, USBIE, renumerated, FPGA held" init_ok
desc_ok() { # 18 01 0200 ff ff ff 40 VID PID version 1 2 0 1
    set -- 0x12 0x01 0x00 0x02 0xff 0xff 0xff 0x40 0x09 0x12 0x01 0x00
    i=0
    for want in "$@"; do
        expect "$(printf '0x%x' $((DESC + i)))" "$want" || return 1
        i=$((i + 1))
    done
    expect "$(printf '0x%x' $((DESC + 17)))" 0x01
}
check "device descriptor in code memory: USB 2.0, vendor class, EP0 64, 1209:0001, 1 configuration" desc_ok

setup() { # 8 SETUP bytes: feeds them, sets SUDAV's flag, runs one loop turn
    echo "set memory xram 0xe6b8 $*"
    echo "set memory xram 0xe6a0 0"
    echo "set memory iram $FLAG 1"
    echo "run"
    for a in 0xe6a0 0xe68b 0xe740 0xe741 0xe742 0xe743 0xe744 0xe745; do echo "dump xram $a $a"; done
    echo "dump sfr 0xb0 0xb0"
}
vendor() { # setup bytes, then checks "ADDR WANT [MASK]"...
    bytes=$1
    shift
    setup $bytes | run_s51
    # keep only what follows the second breakpoint stop
    awk 'index($0, "Stop at") { stops++ } stops >= 2' "$T/out" > "$T/after"
    mv "$T/after" "$T/out"
    for c in "$@"; do
        # shellcheck disable=SC2086
        expect $c || return 1
    done
}
check "IDENTIFY (0xB0): EP0BUF 'SQ', API 1, 8 bytes, handshake" vendor "0xc0 0xb0 0 0 0 0 8 0" \
    "0xe740 0x53" "0xe741 0x51" "0xe742 0x01" "0xe743 0x00" "0xe68b 0x08" "0xe6a0 0x80 0x81"
check "FPGA_RESET release (0xB2, wValue 0): PD0 low, CRESET_B and SS high" vendor "0x40 0xb2 0 0 0 0 0 0" \
    "0xb0 0x0a" "0xe6a0 0x80 0x81"
check "an unknown vendor request stalls EP0" vendor "0xc0 0xbf 0 0 0 0 1 0" "0xe6a0 0x01 0x81"
echo "1..$n"
exit $fail
