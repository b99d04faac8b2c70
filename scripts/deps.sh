#!/bin/sh
# Install the Debian 12 packages sparq uses. Idempotent: packages already
# present are skipped (one dpkg-query call), so a second run takes a second.
set -eu

PACKAGES="build-essential pkg-config clang libclang-rt-14-dev \
verilator yosys nextpnr-ice40 fpga-icestorm fpga-icestorm-chipdb iverilog \
libusb-1.0-0-dev libopenblas-dev libsndfile1-dev libcjson-dev libkissfft-dev libfftw3-dev zlib1g-dev \
sdcc espeak-ng flite festival festvox-kallpc16k sox gnuplot-nox fonts-liberation \
openmpi-bin libopenmpi-dev libdnnl-dev"
# Open-vocabulary corpus text and more English voices (docs/data.md, sparq data gen).
PACKAGES="$PACKAGES fortunes-min fortunes wordnet-base festvox-kdlpc16k festvox-us-slt-hts"
# The FX2 firmware run as 8051 code in ucsim (tests/firmware/s51.sh).
PACKAGES="$PACKAGES sdcc-ucsim"

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        "install ok installed") ;;
        *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    echo "deps: all $(echo $PACKAGES | wc -w) packages present"
    exit 0
fi

if [ "$(id -u)" != "0" ]; then
    echo "deps: missing:$missing" >&2
    echo "deps: run as root: apt-get update && apt-get install -y$missing" >&2
    exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
echo "deps: done"
