# Roofline of the accelerator behind a USB link: gnuplot -e "dat='R.json.dat'; out='R.png'" scripts/roofline.gp
# Columns of the .dat (written by sparq eval --report): name, MACs per link byte,
# attained MAC/s with link 0 and link 1, peak MAC/s, link 0 and 1 bytes/s.
set terminal pngcairo size 900,600 font "Liberation Sans,11"
set output out
set logscale xy
set xlabel "arithmetic intensity (MACs per byte over the link)"
set ylabel "MAC/s"
set key left top
set grid
stats dat using 5 nooutput
peak = STATS_max
stats dat using 6 nooutput
bw0 = STATS_max
stats dat using 7 nooutput
bw1 = STATS_max
roof(x, bw) = (x * bw < peak) ? x * bw : peak
set xrange [1:10000]
set title "int4 2:4 Conformer matmuls: 16x16 array at 100 MHz"
plot roof(x, bw0) title "roof, FX2 USB2 40 MB/s" lw 2 lc rgb "#c03030", \
     roof(x, bw1) title "roof, FT601 USB3 200 MB/s" lw 2 lc rgb "#3050c0", \
     dat using 2:3 title "layers, FX2" pt 7 ps 1.2 lc rgb "#c03030", \
     dat using 2:4 title "layers, FT601" pt 5 ps 1.2 lc rgb "#3050c0"
