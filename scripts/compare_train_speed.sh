#!/bin/bash
# Wall clock of 60 study-recipe steps (same data, seed, config) in two checkouts, e.g. before/after a change:
#   git worktree add /tmp/before <rev>; TREES="/tmp/before $PWD" OMNITALKER_ROOT=/work bash scripts/compare_train_speed.sh
# needs the study corpus (docs/results_synthetic.md); prints "<checkout> <seconds>" per run (startup included).
set -e
for tree in ${TREES:?give TREES="checkout1 checkout2"}; do
  cd $tree
  start=$(date +%s.%N)  # a fresh run_name each time: a reused one would resume
  PYTHONPATH=$tree ${PYTHON:-python} scripts/train.py experiment=study run_name=speed_$(basename $tree)_$(date +%s) \
    trainer.max_steps=60 callbacks.model_checkpoint.every_n_train_steps=1000 trainer.enable_progress_bar=false > /tmp/train_speed_$(basename $tree).log 2>&1
  end=$(date +%s.%N)
  echo "$tree $(echo "$end - $start" | bc)"
done
