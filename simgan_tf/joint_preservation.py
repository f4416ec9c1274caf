"""Does refinement keep a depth image's hand pose? Depth at the joints and the silhouette.

The paper keeps labels by self-regularisation and shows it for eyes (pupil shift); for hands
the label is the joints' (u, v, d). A refiner cannot move a joint without moving the hand's
depth surface, so two direct measures on synthetic/refined pairs: the change of depth at
each labelled joint's pixel (a finger erased or a palm pushed back shows here), and the
overlap (IoU) of the hand silhouettes (pixels nearer than the background value).

Pixel convention (procedural_hands / nyu_hand): pixel (row i, col j) is centred at u = j, v = i.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _as_depth(images: Any, what: str) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3 or arr.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"joint_depth_change: {what} must be uint8/uint16 depth images (n, h, w[, 1]), "
                         f"got {arr.dtype} {arr.shape}")
    return arr


def joint_depth_change(synthetic: Any, refined: Any, joints_uv: Any, level_mm: float | None = None) -> dict[str, Any]:
    """Depth change at the joints and silhouette IoU between synthetic images and their refined versions.

    `joints_uv` (n, 14, 2) in the images' pixels; `level_mm`, when the encoding has one, turns
    depth levels into millimetres (procedural_hands: 150 / 126.5 mm a level). Background is the
    dtype's largest value (255 / 65535), as both hand datasets store far and missing depth.
    Returns JSON-ready `mean_levels`, `median_levels`, `mean_mm` (or None), `joints_lost_pct`
    (joints on the hand in the synthetic image that are background after refinement),
    `silhouette_iou` (mean over images) and `num_images`, plus `changes_levels` (numpy, per
    joint on the hand, not JSON).
    """
    syn = _as_depth(synthetic, "synthetic")
    ref = _as_depth(refined, "refined")
    joints = np.asarray(joints_uv, dtype=np.float64)
    if syn.shape != ref.shape:
        raise ValueError(f"joint_depth_change: synthetic {syn.shape} vs refined {ref.shape}; expected the refined "
                         "versions of the same images")
    if joints.ndim != 3 or joints.shape[0] != syn.shape[0] or joints.shape[-1] != 2:
        raise ValueError(f"joint_depth_change: joints_uv shape {joints.shape}; expected ({syn.shape[0]}, J, 2)")
    background = np.iinfo(syn.dtype).max
    h, w = syn.shape[1:]
    cols = np.clip(np.rint(joints[..., 0]).astype(int), 0, w - 1)
    rows = np.clip(np.rint(joints[..., 1]).astype(int), 0, h - 1)
    index = np.arange(syn.shape[0])[:, None]
    d_syn = syn[index, rows, cols].astype(np.float64)
    d_ref = ref[index, rows, cols].astype(np.float64)
    on_hand = d_syn < background
    lost = on_hand & (d_ref >= background)
    kept = on_hand & ~lost
    changes = np.abs(d_ref - d_syn)[kept]
    mask_syn, mask_ref = syn < background, ref < background
    union = np.logical_or(mask_syn, mask_ref).sum(axis=(1, 2))
    inter = np.logical_and(mask_syn, mask_ref).sum(axis=(1, 2))
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    mean = float(changes.mean()) if changes.size else float("nan")
    return {
        "mean_levels": mean,
        "median_levels": float(np.median(changes)) if changes.size else float("nan"),
        "mean_mm": mean * level_mm if level_mm is not None and changes.size else None,
        "joints_lost_pct": float(100.0 * lost.sum() / max(on_hand.sum(), 1)),
        "silhouette_iou": float(iou.mean()),
        "num_images": int(syn.shape[0]),
        "changes_levels": changes,
    }


def silhouette_change(synthetic: Any, refined: Any, target: Any | None = None,
                      margin_levels: int = 8) -> dict[str, Any]:
    """Label-free shape figures of a depth refiner: how much hand it draws or erases.

    A sensor whose matching window fattens the hand and adds flying pixels around it
    (procedural_hands sensor_v3 / v4) has more hand pixels than a clean render; a refiner that
    learned it must draw them, and one pinned near the identity draws none. Hand = more than
    `margin_levels` nearer than the dtype's largest value (the background): a tanh refiner
    writes the background a few levels short of it beside the hand (its output saturates
    there), which is not drawing hand (on sensor_v4, 8 levels = 9.5 mm, far from the halo's
    ~84). `target`, unpaired target images, gives the share a refiner should approach.
    Shares are of all pixels, in [0, 1]; changes in levels.
    """
    syn = _as_depth(synthetic, "synthetic")
    ref = _as_depth(refined, "refined")
    if syn.shape != ref.shape:
        raise ValueError(f"silhouette_change: synthetic {syn.shape} vs refined {ref.shape}; expected the refined "
                         "versions of the same images")
    if margin_levels < 0:
        raise ValueError(f"silhouette_change: margin_levels={margin_levels}; expected >= 0")
    nearest_background = int(np.iinfo(syn.dtype).max) - margin_levels
    hand_syn, hand_ref = syn < nearest_background, ref < nearest_background
    change = np.abs(ref.astype(np.float64) - syn.astype(np.float64))
    out: dict[str, Any] = {
        "hand_share_synthetic": float(hand_syn.mean()),
        "hand_share_refined": float(hand_ref.mean()),
        "drawn_share": float((~hand_syn & hand_ref).mean()),  # background made hand (rim, halo)
        "erased_share": float((hand_syn & ~hand_ref).mean()),  # hand made background (holes, slivers)
        "mean_change_on_hand_levels": float(change[hand_syn].mean()) if hand_syn.any() else float("nan"),
        "mean_change_off_hand_levels": float(change[~hand_syn].mean()) if (~hand_syn).any() else float("nan"),
        "num_images": int(syn.shape[0]),
        "background_margin_levels": int(margin_levels),
    }
    if target is not None:
        tgt = _as_depth(target, "target")
        if tgt.dtype != syn.dtype:
            raise ValueError(f"silhouette_change: target is {tgt.dtype}, synthetic {syn.dtype}; expected one encoding")
        out["hand_share_target"] = float((tgt < nearest_background).mean())
        out["num_target_images"] = int(tgt.shape[0])
    return out


__all__ = ["joint_depth_change", "silhouette_change"]
