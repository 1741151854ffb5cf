# The chart of docs/results.md: each setting's mean KL divergence from the float model,
# with its standard deviation over calibration seeds, from `lowp-ptq paper --csv`.
#   gnuplot -e "data='docs/results/stories260K_kl.tsv'; out='docs/results/stories260K_kl.png'" docs/results/kl_chart.gp
# (Debian gnuplot-nox; the float row, KL 0, is left out of the log scale.)
set terminal pngcairo size 1100,600 font "DejaVu Sans,10"
set output out
set datafile separator "\t"
set title "stories260K: mean KL divergence from the float model per token (mean ± sd over 3 calibration seeds)"
set ylabel "mean KL (nats per token), log scale"
set logscale y
set yrange [0.01:10]
set style fill solid 0.6 border -1
set boxwidth 0.7
set xtics rotate by -35 left nomirror
set bmargin 9
set grid ytics
set offsets 0.6, 0.6, 0, 0
set rmargin 14
unset key
plot data every ::1 using 0:2:3:xtic(1) with boxerrorbars lc rgb "#4477aa"
