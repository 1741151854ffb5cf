# The outlier chart of docs/results.md: mean KL divergence from the float model of per-token
# INT8, FP8 E4M3 and FP8 E5M2 activations (float weights) against the factor alpha of the
# injected outlier channels, mean ± sd over the seeds, from `lowp-ptq outliers --csv`.  One
# data block per number of outlier channels, its first row the titles (columns: channels,
# alpha, then mean and sd of INT8, E4M3, E5M2).
#   gnuplot -e "data='docs/results/stories260K_outliers.tsv'; out='docs/results/stories260K_outliers.png'" docs/results/outliers_chart.gp
set terminal pngcairo size 1100,600 font "DejaVu Sans,10"
set output out
set datafile separator "\t"
set title "stories260K: W16A8 under injected outlier channels (function-preserving), mean ± sd over seeds"
set xlabel "outlier factor alpha (the channels' inputs alpha times larger), log scale"
set ylabel "mean KL (nats per token), log scale"
set logscale xy 2
set format y "%g"
set grid xtics ytics
set key top left
set offsets graph 0.03, graph 0.03, 0, 0
stats data using 2 nooutput
blocks = STATS_blocks
plot for [b=0:blocks-1] data index b using 2:3:4 with yerrorlines lw 2 dt b+1 lc rgb "#cc3311" \
       title columnheader(3), \
     for [b=0:blocks-1] data index b using 2:5:6 with yerrorlines lw 2 dt b+1 lc rgb "#0077bb" \
       title columnheader(5), \
     for [b=0:blocks-1] data index b using 2:7:8 with yerrorlines lw 2 dt b+1 lc rgb "#009988" \
       title columnheader(7)
