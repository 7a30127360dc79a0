#!/usr/bin/env bash
# One prepared GPU session: CUDA tests, cell and training benchmarks on the GPU, then a large-batch cue-task run.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
LOG=$OUT/log.txt
{
nvidia-smi -L
python3 -c "import torch, gymnasium; print('torch', torch.__version__, 'gymnasium', gymnasium.__version__, torch.cuda.get_device_name())"
echo "== stage 1: CUDA tests"; date
timeout 180 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py -x 2>&1 | tail -25
echo "== stage 2: cell bench on cuda"; date
timeout 150 python3 -m plastic_agents.bench --device cuda --kinds rnn lstm plastic modplast modul --sizes maze cue --repeats 3 --json > $OUT/cells_cuda.json
python3 -c "import json,sys; from plastic_agents.bench import print_report; print_report(json.load(open(sys.argv[1])))" $OUT/cells_cuda.json
echo "== stage 3: training bench on cuda"; date
timeout 120 python3 -m train bench --only training --device cuda --json > $OUT/training_cuda.json; cat $OUT/training_cuda.json
echo "== stage 4: cue task modul, B=1024, on cuda"; date
timeout -s INT ${CUE_SECONDS:-200} python3 -m train train --preset cue-fast --device cuda --batch-size 1024 --iterations 100000 \
    --log-every 10 --checkpoint-every 50 --run-dir $OUT/cue-gpu --no-progress --no-tensorboard
echo "rc=$?"; date
tail -5 $OUT/cue-gpu/metrics.csv
} 2>&1 | tee $LOG
