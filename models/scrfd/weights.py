"""Loading the published SCRFD_500M_KPS checkpoint, with one clear error when it does not fit.

A damaged or mismatched weight file must stop the run: silently loading half the weights (or
none) would surface much later as an inexplicably low AP.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from compbench.errors import AssetCorrupt, AssetMissing
from compbench.models.scrfd.network import SCRFD

SOURCE = "the insightface SCRFD model zoo (detection/scrfd), file SCRFD_500M_KPS.pth"
_FIX = (f"Replace it with the published SCRFD_500M_KPS.pth (a dict {{'model': state_dict}}) "
        f"from {SOURCE}, or from the compbench assets folder (scrfd/SCRFD_500M_KPS.pth).")


def _read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many unrelated types for a damaged file
        raise AssetCorrupt(f"cannot read SCRFD weights {path}: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'}. "
                           f"{_FIX}") from exc
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, Mapping) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise AssetCorrupt(f"SCRFD weights {path} hold a {type(checkpoint).__name__}, not a "
                           f"state dict of tensors. {_FIX}")
    return state


def _mismatch_report(expected: Mapping[str, torch.Tensor],
                     found: Mapping[str, torch.Tensor]) -> str:
    """Empty when ``found`` fits ``expected`` exactly; else a short, bounded description."""

    def listing(names: list[str]) -> str:
        return ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")

    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [f"{k} {tuple(found[k].shape)} != {tuple(expected[k].shape)}"
             for k in sorted(set(expected) & set(found)) if found[k].shape != expected[k].shape]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys ({listing(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys ({listing(unexpected)})")
    if wrong:
        parts.append(f"{len(wrong)} wrong shapes ({listing(wrong)})")
    return "; ".join(parts)


def load_scrfd_500m_kps(path: str | Path) -> SCRFD:
    """The native network with the checkpoint's weights, in eval mode (BN uses running stats)."""
    path = Path(path)
    if not path.is_file():
        raise AssetMissing(f"SCRFD weights not found: {path}. Get SCRFD_500M_KPS.pth from "
                           f"{SOURCE} or point compbench at the assets folder (--assets DIR).")
    state = _read_state_dict(path)
    model = SCRFD()
    problem = _mismatch_report(model.state_dict(), state)
    if problem:
        raise AssetCorrupt(f"SCRFD weights {path} do not fit SCRFD_500M_KPS: {problem}. {_FIX}")
    model.load_state_dict(state, strict=True)
    return model.eval()
