"""Training of crclean's own mask networks (extra ``[train]``)."""

from crclean.training.mask._data import SamplePool, build_pool
from crclean.training.mask._loop import load_config, predict_pool, train_mask
from crclean.training.mask._metrics import mask_scores

__all__ = ["SamplePool", "build_pool", "load_config", "mask_scores", "predict_pool", "train_mask"]
