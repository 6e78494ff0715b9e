"""Writing an OpenVINO IR so that the same model gives the same bytes wherever it was built.

``ov.convert_model`` records its arguments in the model (``conversion_parameters``), among them
the path it read — a temporary folder, or the cache folder of the source artifact — so two
builds of one model differed in a line of ``model.xml``, and everything keyed by the artifact's
digest downstream (its accuracy evaluation) missed the cache. The record is dropped on save.
"""

from __future__ import annotations

from pathlib import Path

CONVERSION_RECORD = "conversion_parameters"


def save_ir(model, target: Path, compress_to_fp16: bool = False) -> None:
    import openvino as ov

    info = model.get_rt_info()
    if CONVERSION_RECORD in info:
        del info[CONVERSION_RECORD]
    ov.save_model(model, str(target), compress_to_fp16=compress_to_fp16)
