"""Hardware-aware model shapes: ``analyze_shape`` (a model's GEMMs and nearby faster shapes) and
``design_shape`` (a shape for a parameter budget). Modules: ``timing`` (time and flag every GEMM of
a model), ``analyze``, ``design``."""

from .analyze import ShapeAnalysis, ShapeProposal, analyze_shape
from .design import ShapeDesign, design_shape
from .timing import ShapeGemm

__all__ = ["ShapeAnalysis", "ShapeDesign", "ShapeGemm", "ShapeProposal", "analyze_shape", "design_shape"]
