"""File names inside an experiment's --out folder, shared by the runner and the report."""
from __future__ import annotations

EXPERIMENT_FILE = "experiment.json"  # settings fingerprint: a resumed run must match it
ROW_DIR = "rows"  # seed_N/rows/<row>.json: one estimator's result
REFINER_DIR = "refiners"  # seed_N/refiners/<variant>/: a training run directory
REFINED_FILE = "refined.npy"  # the variant's refined synthetic images (uint8)
PUPIL_FILE = "label_preservation.json"
CRITIC_FILE = "critic.json"
RESULTS_FILE = "results.json"
TABLE_FILE = "table.md"
CURVES_FILE = "curves.png"
