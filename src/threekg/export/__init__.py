"""Take a trained encoder out of threekg: an ONNX file and a model-hub folder with its model card.

``export_onnx(RUN, "model.onnx")`` (optional extra ``threekg[onnx]``) and ``export_hub(RUN, DIR)``;
``threekg embed`` (:mod:`threekg.embed`) is the third way to use an encoder outside pretraining.
"""

from threekg.export.hub import HubExport, export_hub
from threekg.export.onnx import OnnxExport, export_onnx

__all__ = ["HubExport", "OnnxExport", "export_hub", "export_onnx"]
