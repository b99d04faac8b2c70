# The Pareto front of `sparq explore` (docs/explore.md): real-time factor against area.
#   gnuplot -e "dat='build/explore/pareto.dat'; out='build/explore/pareto.png'" scripts/explore_pareto.gp
# pareto.dat columns: 1 label, 2 clock MHz, 3 area (largest share of an LFE5U-85F resource),
# 4-6 fits HX8K / UP5K / ECP5-85F (0/1), then per link: RTF, on that link's front (0/1).
# One colour per link (the first three links); the front is the line; the marker says the largest
# target the configuration fits: circle none, square ECP5-85F, triangle an iCE40 (HX8K or UP5K).
if (!exists("dat")) dat = 'build/explore/pareto.dat'
if (!exists("out")) out = 'build/explore/pareto.png'
set terminal pngcairo size 1000,640 font ",10" noenhanced
set output out
set title "sparq explore: real-time factor vs area (each point one configuration; lines: Pareto front per link)"
set xlabel "area: largest share of an LFE5U-85F resource (LUT4, FF, DP16KD, MULT18X18D), synth_ecp5"
set ylabel "real-time factor (board time / audio time; < 1 is faster than real time)"
set logscale xy
set grid
set key outside right top
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "gray40"
set arrow from 1, graph 0 to 1, graph 1 nohead dt 2 lc rgb "gray40"
# header line: "# label clock_mhz area fits_hx8k fits_up5k fits_ecp5 rtf_NAME pareto_NAME ..."
name(k) = system(sprintf("head -1 '%s' | awk '{ print $%d }' | sed 's/^rtf_//'", dat, 8 + 2 * (k - 1)))
nl = int(system(sprintf("head -1 '%s' | awk '{ print (NF - 7) / 2 }'", dat)))
# marker: 7 circle (fits none), 5 square (ECP5-85F), 9 triangle (iCE40)
mk(h, u, e) = (h > 0 || u > 0) ? 9 : (e > 0 ? 5 : 7)
colors = "#1f77b4 #d62728 #2ca02c #9467bd"
front(k) = sprintf("< awk '$1 !~ /^#/ && $%d == 1' '%s' | sort -g -k3", 8 + 2 * (k - 1), dat)
plot for [k=1:(nl < 4 ? nl : 4)] dat u 3:(column(7 + 2 * (k - 1))):(mk($4, $5, $6)) \
         w p pt variable ps 1.6 lc rgb word(colors, k) notitle, \
     for [k=1:(nl < 4 ? nl : 4)] front(k) u 3:(column(7 + 2 * (k - 1))) w l lw 2 lc rgb word(colors, k) \
         title sprintf("%s: points, front", name(k)), \
     for [k=1:1] dat u 3:(column(7)):1 w labels offset 0,1 font ",8" notitle, \
     NaN w p pt 7 lc rgb "black" title "fits no target", \
     NaN w p pt 5 lc rgb "black" title "fits the ECP5-85F", \
     NaN w p pt 9 lc rgb "black" title "fits an iCE40 (HX8K/UP5K)"
