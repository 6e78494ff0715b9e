"""The fp32 reference model as the variant table names it (``ModelSpec.source``)."""

from __future__ import annotations

from compbench.assets import Assets

WEIGHTS = "scrfd/SCRFD_500M_KPS.pth"


def fp32_model(assets: Assets):
    from compbench.models.scrfd.weights import load_scrfd_500m_kps

    return load_scrfd_500m_kps(assets.file(WEIGHTS))
