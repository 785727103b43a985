"""Training of crclean's learned inpainter (extra ``[train]``)."""

from crclean.training.inpaint._data import FillPool, build_fill_pool, fill_sample
from crclean.training.inpaint._loop import load_inpaint_config, predict_fill_pool, train_inpaint

__all__ = ["FillPool", "build_fill_pool", "fill_sample", "load_inpaint_config", "predict_fill_pool",
           "train_inpaint"]
