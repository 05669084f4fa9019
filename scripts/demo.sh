#!/usr/bin/env bash
# The main job on the embedded default: BraTS-like synthetic subjects -> npy slices ->
# compiled plan -> a short training run -> inference on held-out subjects -> test Dice.
# Knobs (environment): SUBJECTS, EPOCHS, BATCH (global), MICRO (plan batch), THREADS.
# A short run decays the learning rate more slowly than the seed's 350 steps, which were
# meant for long runs: 4 epochs of the default data are about 300 steps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh unetsynth unetconvert unetc unetrun

out=out/demo
bin=build/tools
subjects=${SUBJECTS:-24}
epochs=${EPOCHS:-4}
batch=${BATCH:-8}
micro=${MICRO:-8}
threads=${THREADS:-$(nproc)}
rm -rf "$out"
mkdir -p "$out"

"$bin"/unetsynth/unetsynth -o "$out/raw" --subjects "$subjects" --seed 1 --shape 160x160x40
"$bin"/unetconvert/unetconvert "$out/raw" -o "$out/slices" --size 128 --train_test_split 0.8 --seed 1 --skip_empty
"$bin"/unetc/unetc models/unet_brats.def -o "$out/plan.bin" --batch "$micro" --target native
"$bin"/unetrun/unetrun "$out/plan.bin" --data "$out/slices" --epochs "$epochs" --batch_size "$batch" \
  --decay_steps 1000 --num_threads "$threads" --checkpoint_dir "$out/checkpoints" --log "$out/training.log"
"$bin"/unetrun/unetrun "$out/plan.bin" --infer --checkpoint "$out/checkpoints/latest.npz" \
  --data "$out/slices" --out "$out/predictions" --num_threads "$threads"
