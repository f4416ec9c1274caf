"""`simgan-export`: a training run's checkpoint -> SavedModel + TFLite flavours + export.json."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any, Sequence

from simgan_tf.export.settings import FLAVOURS, UINT16_FLAVOURS, ExportConfig
from simgan_tf.runtime import configure_tf_runtime


def build_parser() -> argparse.ArgumentParser:
    defaults = ExportConfig()
    parser = argparse.ArgumentParser(
        prog="simgan-export",
        description=(
            "Export the refiner a training run kept (--refiner): OUT/NAME/VERSION/ (SavedModel in the "
            "TF Serving layout: signatures serving_default (uint8 0..255 in and out; uint16 "
            "0..65535 for a run trained on uint16 depth) and refine_float (float32 [-1, 1]), "
            "warm-up records in assets.extra/), OUT/NAME_{float32,float16,dynamic_int8,int8}.tflite "
            "(a uint16 run's take and return uint16; it has no int8 flavour), and "
            "OUT/NAME/export.json with the image dtype and parity figures against the Keras "
            "refiner. Fails (writing nothing) if a float artefact differs from the Keras refiner "
            "by more than its tolerance."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--run-dir", required=True, help="training run directory (config.json + checkpoints/)")
    parser.add_argument("--name", required=True, help="model name: OUT/NAME/ and OUT/NAME_*.tflite")
    parser.add_argument("--refiner", choices=["kept", "latest"], default="kept",
                        help="kept: the refiner the run kept (the realism rule's best check where it stopped the run, "
                             "else the latest checkpoint); latest: the latest checkpoint's, whatever the rule kept")
    parser.add_argument("--version", type=int, help="SavedModel version (default: one past the newest existing)")
    parser.add_argument("--out", default="saved_models", help="export root directory")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/NAME/VERSION")
    parser.add_argument("--flavours",
                        help=f"comma-separated TFLite flavours, some of {','.join(FLAVOURS)} (default: every "
                        f"flavour the run's image dtype allows: all four for uint8, {','.join(UINT16_FLAVOURS)} "
                        "for uint16 depth)")
    parser.add_argument("--representative-count", type=int, default=defaults.representative_count,
                        help="synthetic images calibrating the full-integer int8 model")
    parser.add_argument("--parity-count", type=int, default=defaults.parity_count,
                        help="held-out synthetic images every artefact is checked on")
    parser.add_argument("--data-dir", help="TFDS data directory (default: the preset's / ~/tensorflow_datasets)")
    parser.add_argument("--manual-dir", help="folder of manually downloaded datasets (UnityEyes, ...)")
    return parser


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_parity_table(record: dict[str, Any]) -> str:
    """One line per artefact: max abs diff, pixel levels (uint8, or uint16 for depth), PSNR, size."""
    from simgan_tf.export.parity import level_diff

    rows = [("saved_model", record["saved_model"]["parity"], None)]
    rows += [(f, d["parity"], d["bytes"]) for f, d in record["tflite"].items()]
    dtype = level_diff(record["saved_model"]["parity"])[0]
    lines = [f"{'artefact':<14}{'max |diff|':>12}{dtype + ' levels':>14}{'PSNR dB':>10}{'size KiB':>10}  check"]
    for name, p, size in rows:
        if "tolerance" in p:
            check = f"<= {p['tolerance']:g}: {'ok' if p['passed'] else 'FAIL'}"
        elif "psnr_goal_db" in p:
            check = f">= {p['psnr_goal_db']:g} dB: {'ok' if p['meets_goal'] else 'below goal'}"
        else:
            check = ""
        psnr = "inf" if p["psnr_db"] is None else f"{p['psnr_db']:.1f}"
        lines.append(
            f"{name:<14}{p['max_abs_diff']:>12.2e}{level_diff(p)[1]:>14d}{psnr:>10}"
            f"{_fmt(None if size is None else size / 1024, '.1f'):>10}  {check}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    configure_tf_runtime()  # log level and CPU allocator, before TF starts
    args = build_parser().parse_args(argv)
    from simgan_tf.export.exporter import EXPORT_JSON, export_run
    from simgan_tf.export.parity import ParityError
    from simgan_tf.export.saved_model import ExportError

    flavours = None if args.flavours is None else tuple(f.strip() for f in args.flavours.split(",") if f.strip())
    try:
        settings = dataclasses.replace(
            ExportConfig(), flavours=flavours,
            representative_count=args.representative_count, parity_count=args.parity_count,
        )
        record = export_run(
            args.run_dir, args.name, version=args.version, out=args.out, overwrite=args.overwrite,
            settings=settings, data_dir=args.data_dir, manual_dir=args.manual_dir, refiner=args.refiner,
        )
    except ParityError as err:
        print(f"simgan-export: error: {err}", file=sys.stderr)
        return 1
    except (ExportError, FileNotFoundError, ValueError) as err:
        print(f"simgan-export: error: {err}", file=sys.stderr)
        return 2
    out = args.out
    print(f"SavedModel  {out}/{record['saved_model']['path']}  (step {record['training_step']}, "
          f"warm-up records: {record['saved_model']['warmup_records']})")
    for flavour, doc in record["tflite"].items():
        print(f"TFLite      {out}/{doc['path']}")
    print(f"Report      {out}/{args.name}/{EXPORT_JSON}  ({record['export_seconds']} s)")
    print(format_parity_table(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
