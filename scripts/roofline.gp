# Roofline and batch-size sweep of the accelerator behind a USB link:
#   gnuplot -e "dat='R.json.dat'; sweep='R.json.sweep.dat'; out='R.png'" scripts/roofline.gp
# Both .dat files are written by sparq eval --report R.json.
# R.json.dat columns: name, MACs per link byte, attained MAC/s with link 0 and
# link 1, peak MAC/s, link 0 and 1 bytes/s.
# R.json.sweep.dat columns: batch size B, real-time factor with link 0, with
# link 1, compute only, link bytes, busy cycles, then the same five on
# protocol-version-2 hardware (no weight store, no epilogue: "before").
# Optional: before='R.json.v2.dat' after='R.json.v3.dat' (the planner's
# points at the sweep's largest B on both hardware versions, same format as
# R.json.dat) draws the per-matmul roofline before and after on the same axes
# instead of the measured points.
# Optional: label_before / label_after name the two plans (default: v2 and v3 hardware).
if (!exists("title")) title = "int4 2:4 Conformer matmuls: 16x16 array at 100 MHz"
if (!exists("label_before")) label_before = "before"
if (!exists("label_after")) label_after = "after"
set terminal pngcairo size 1500,600 font "Liberation Sans,11"
set output out
stats dat using 5 nooutput
peak = STATS_max
stats dat using 6 nooutput
bw0 = STATS_max
stats dat using 7 nooutput
bw1 = STATS_max
roof(x, bw) = (x * bw < peak) ? x * bw : peak
set multiplot layout 1,2 title title
set logscale xy
set xlabel "arithmetic intensity (MACs per byte over the link)"
set ylabel "MAC/s"
set key left top
set grid
set xrange [1:10000]
set title "roofline per matmul"
if (exists("before") && exists("after")) {
    if (label_before eq "before") {
        set title "roofline per matmul: before (v2: streamed, unchained) and after (store + FFN chains)"
    } else {
        set title sprintf("roofline per matmul: %s and %s", label_before, label_after)
    }
    plot roof(x, bw0) title sprintf("roof, %.0f MB/s", bw0 / 1e6) lw 2 lc rgb "#c03030", \
         roof(x, bw1) title sprintf("roof, %.0f MB/s", bw1 / 1e6) lw 2 lc rgb "#3050c0", \
         before using 2:3 title label_before.", link 0" pt 6 ps 1.2 lc rgb "#c03030", \
         before using 2:4 title label_before.", link 1" pt 4 ps 1.2 lc rgb "#3050c0", \
         after using 2:3 title label_after.", link 0" pt 7 ps 1.2 lc rgb "#c03030", \
         after using 2:4 title label_after.", link 1" pt 5 ps 1.2 lc rgb "#3050c0"
} else {
    plot roof(x, bw0) title sprintf("roof, %.0f MB/s", bw0 / 1e6) lw 2 lc rgb "#c03030", \
         roof(x, bw1) title sprintf("roof, %.0f MB/s", bw1 / 1e6) lw 2 lc rgb "#3050c0", \
         dat using 2:3 title "layers, link 0" pt 7 ps 1.2 lc rgb "#c03030", \
         dat using 2:4 title "layers, link 1" pt 5 ps 1.2 lc rgb "#3050c0"
}
set title "batch-size sweep (weights loaded once per batch)"
set logscale x 2
set logscale y
set autoscale
set xlabel "utterances per batch B"
set ylabel "real-time factor of the matmuls (lower is faster)"
set key right center
plot sweep using 1:2 with linespoints title sprintf("link %.0f MB/s", bw0 / 1e6) lw 2 pt 7 lc rgb "#c03030", \
     sweep using 1:3 with linespoints title sprintf("link %.0f MB/s", bw1 / 1e6) lw 2 pt 5 lc rgb "#3050c0", \
     sweep using 1:4 with linespoints title "compute only" lw 2 pt 9 lc rgb "#208020", \
     sweep using 1:7 with linespoints title sprintf("v2 hardware, link %.0f MB/s", bw0 / 1e6) lw 1 dt 2 pt 6 lc rgb "#c03030", \
     sweep using 1:8 with linespoints title sprintf("v2 hardware, link %.0f MB/s", bw1 / 1e6) lw 1 dt 2 pt 4 lc rgb "#3050c0"
unset multiplot
