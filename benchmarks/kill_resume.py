"""Kill a real `python train_gaze.py` at random moments, resume it, compare with an unbroken run.

    python benchmarks/kill_resume.py --kills 10 --out docs/results/kill_resume.json

Runs the same small deterministic training (`--deterministic`, a shortened gaze_quick
schedule on the embedded data) once without interruption, then again in a second run
directory, sending SIGKILL at a random moment (uniform over the expected run time) and
restarting with the same command, `--kills` times, then letting it finish. Reports, per
kill: the last step the killed process had logged (TensorBoard, `--log-every 1`), the
newest checkpoint then on disk, the step the next process said it resumed from, and whether every
checkpoint on disk could be read; at the end the largest difference between the final
weights of the two runs (0 means bit-identical) and the checkpoint size on disk.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SCHEDULE = ["--steps", "100", "--pretrain-r-steps", "10", "--pretrain-d-steps", "10", "--batch-size", "16",
            "--buffer-size", "64", "--checkpoint-every", "5", "--log-every", "1", "--deterministic", "--quiet"]


def train_command(run_dir: Path, extra: list[str]) -> list[str]:
    return [sys.executable, str(REPO / "train_gaze.py"), "--run-dir", str(run_dir), *SCHEDULE, *extra]


def logged_steps(run_dir: Path) -> int:
    """The largest step any TensorBoard event in run_dir/logs records (0 if none)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    newest = 0
    for path in glob.glob(str(run_dir / "logs" / "events.out.tfevents.*")):
        try:
            for event in EventFileLoader(path).Load():
                newest = max(newest, int(event.step))
        except Exception:  # a file cut mid-record by the kill: earlier records still count
            continue
    return newest


def checkpoints(run_dir: Path) -> tuple[int | None, int, int]:
    """(newest readable checkpoint step, readable count, unreadable count)."""
    import tensorflow as tf

    from simgan_tf import run_io

    readable, unreadable, newest = 0, 0, None
    for index in sorted(glob.glob(str(run_dir / "checkpoints" / "ckpt-*.index"))):
        prefix = index[: -len(".index")]
        try:
            reader = tf.train.load_checkpoint(prefix)
            reader.get_variable_to_shape_map()
            step = run_io.checkpoint_step(prefix)
            readable += 1
            newest = step if newest is None else max(newest, step)
        except Exception:
            unreadable += 1
    state = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    if state is not None:
        try:
            tf.train.load_checkpoint(state)
        except Exception:
            unreadable += 1
    return newest, readable, unreadable


def final_weights(run_dir: Path) -> dict:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run_dir / "checkpoints")))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if "iterator" not in name and name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def run_to_end(run_dir: Path, extra: list[str], env: dict) -> tuple[float, str]:
    started = time.time()
    proc = subprocess.run(train_command(run_dir, extra), env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"training failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.time() - started, proc.stdout


def resumed_from(stdout: str) -> int:
    """The step a process said it resumed from ("Resuming from step N"), 0 for a fresh start."""
    match = re.search(r"Resuming from step (\d+)", stdout)
    return int(match.group(1)) if match else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/kill_resume"))
    parser.add_argument("--data-dir", help="TFDS data dir (default: TFDS's)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    extra = ["--data-dir", args.data_dir] if args.data_dir else []
    reference, killed = args.work_dir / "reference", args.work_dir / "killed"
    for path in (reference, killed):
        if path.exists():
            raise SystemExit(f"{path} exists: choose an empty --work-dir")
    print("uninterrupted reference run...", flush=True)
    reference_seconds, _ = run_to_end(reference, extra, env)
    total = int(json.loads((reference / "summary.json").read_text())["total_steps"])
    print(f"  {total} steps in {reference_seconds:.0f} s", flush=True)

    summary = json.loads((reference / "summary.json").read_text())
    batch = int(summary["settings"]["training"]["batch_size"])
    per_phase = {"pretrain_refiner": 10 * batch, "pretrain_discriminator": 10 * batch,
                 "adversarial": 100 * batch * 3}
    work = sum(images / summary["images_per_second"][f"{phase}_images_per_second"] for phase, images in per_phase.items())
    startup = max(1.0, reference_seconds - work)
    print(f"  start-up ~{startup:.0f} s, training ~{work:.0f} s", flush=True)
    rng = random.Random(args.seed)
    kills = []
    args.work_dir.mkdir(parents=True, exist_ok=True)
    attempt = -1
    while len([k for k in kills if not k["finished_before_kill"]]) < args.kills and attempt < 3 * args.kills:
        attempt += 1
        log_path = args.work_dir / f"attempt_{attempt}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(train_command(killed, extra), env=env, stdout=log, stderr=subprocess.DEVNULL)
            # Any moment: from half-way through start-up to past 2/K of the training work, so
            # K kills land all over the run (start-up, steps, checkpoint writes).
            delay = rng.uniform(0.5 * startup, startup + 2 * work / args.kills)
            try:
                proc.wait(timeout=delay)
                finished = True
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                finished = False
        started_from = resumed_from(log_path.read_text())
        if kills:
            kills[-1]["next_resumed_from"] = started_from
        step_at_kill = logged_steps(killed)
        newest, readable, unreadable = checkpoints(killed)
        kills.append({"attempt": attempt, "seconds_before_kill": round(delay, 1), "finished_before_kill": finished,
                      "last_logged_step": step_at_kill, "newest_checkpoint": newest,
                      "readable_checkpoints": readable, "unreadable_checkpoints": unreadable})
        print(f"attempt {attempt + 1}: kill after {delay:.1f}s: logged step {step_at_kill}, newest checkpoint "
              f"{newest}, unreadable {unreadable}{' (had already finished)' if finished else ''}", flush=True)
    _, stdout = run_to_end(killed, extra, env)
    if kills:
        kills[-1]["next_resumed_from"] = resumed_from(stdout)
    ref, got = final_weights(reference), final_weights(killed)
    differences = {name: float(abs(ref[name].astype("float64") - got[name].astype("float64")).max())
                   for name in ref if name in got}
    size = sum(f.stat().st_size for f in (killed / "checkpoints").glob("ckpt-*"))
    count = len(list((killed / "checkpoints").glob("ckpt-*.index")))
    result = {
        "command": "python benchmarks/kill_resume.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "training_flags": SCHEDULE,
        "total_steps": total,
        # A resume continues from the newest checkpoint on disk at the kill: nothing saved is lost.
        "kills": [k for k in kills],
        "processes_killed": sum(1 for k in kills if not k["finished_before_kill"]),
        "resumes_from_the_newest_checkpoint": sum(1 for k in kills if k["next_resumed_from"] == (k["newest_checkpoint"] or 0)),
        "lost_steps_beyond_last_checkpoint": sum(abs((k["newest_checkpoint"] or 0) - k["next_resumed_from"]) for k in kills),
        "redone_steps": sum(max(0, k["last_logged_step"] - (k["newest_checkpoint"] or 0)) for k in kills),
        "unreadable_checkpoints": sum(k["unreadable_checkpoints"] for k in kills),
        "weights_compared": len(differences),
        "weights_missing": sorted(set(ref) ^ set(got)),
        "max_weight_difference": max(differences.values()) if differences else None,
        "bit_identical": bool(differences) and max(differences.values()) == 0.0 and not (set(ref) ^ set(got)),
        "checkpoint_bytes_on_disk": size,
        "checkpoints_on_disk": count,
        "bytes_per_checkpoint": size // max(count, 1),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "kills"}, indent=2))
    if args.out:
        from simgan_tf.run_io import write_json_atomic

        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.out, result)
    return 0 if result["bit_identical"] and result["unreadable_checkpoints"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
