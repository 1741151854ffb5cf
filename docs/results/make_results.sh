#!/bin/sh
# Regenerates the tables and the charts of docs/results.md (the paper's tables, then the
# outlier experiment of "Why FP8 activations win"): fixed seeds and one thread give
# the same numbers on every run (with more threads, the Hessians' sums are split
# differently and the last bits, hence some GPTQ codes, can change).  A few minutes.
#   docs/results/make_results.sh build/release/tools/lowp-ptq ../shared/data/stories260K.bin
# Needs gnuplot (Debian gnuplot-nox) for the chart.
set -eu
ptq=$1
model=$2
dir=$(dirname "$0")
"$ptq" paper "$model" --threads 1 --seeds 3 --group 32 --lorc-rank 8 --calib-count 32 --calib-length 128 \
  --eval-count 32 --eval-length 256 --csv "$dir/stories260K_kl.tsv" > "$dir/stories260K_tables.md"
gnuplot -e "data='$dir/stories260K_kl.tsv'; out='$dir/stories260K_kl.png'" "$dir/kl_chart.gp"
"$ptq" outliers "$model" --threads 1 --seeds 3 --alphas 1,2,4,8,16,32,64,128,256 --channels 1,4 \
  --w4a8-alphas 1,16,256 --group 32 --calib-count 32 --calib-length 128 --eval-count 32 \
  --eval-length 256 --csv "$dir/stories260K_outliers.tsv" > "$dir/stories260K_outliers.md"
gnuplot -e "data='$dir/stories260K_outliers.tsv'; out='$dir/stories260K_outliers.png'" \
  "$dir/outliers_chart.gp"
echo "wrote $dir/stories260K_tables.md, $dir/stories260K_kl.tsv, $dir/stories260K_kl.png,"
echo "      $dir/stories260K_outliers.md, $dir/stories260K_outliers.tsv, $dir/stories260K_outliers.png"
