"""catalog_xai: Galaxy Zoo 2 morphologies and SmoothGrad bar lengths for survey catalogues.

The layers, bottom up: ``catalog_xai.core`` (the science, pure numpy/torch),
``catalog_xai.storage`` (object storage, shards, checkpoints), ``catalog_xai.importers``
(survey formats -> input shards), ``catalog_xai.cluster`` (Ray), ``catalog_xai.cli`` (jobs).
Column names, types and units live in ``catalog_xai.columns``.

The notebook API, importable from here::

    from catalog_xai import load_ensemble, MethodParams, classify_batch, smoothgrad, measure_bar, frame_batch
"""

__version__ = "0.1.0"

#: Public name -> module that defines it (imported on first use, so ``import catalog_xai`` stays light).
_API = {
    "load_ensemble": "catalog_xai.storage.checkpoints",
    "MethodParams": "catalog_xai.core.params",
    "classify_batch": "catalog_xai.core.catalogue",
    "run_ensemble": "catalog_xai.core.catalogue",
    "smoothgrad": "catalog_xai.core.saliency",
    "measure_bar": "catalog_xai.core.bars",
    "measure_bars": "catalog_xai.core.bars",
    "frame_batch": "catalog_xai.core.preprocess",
    "decode_image": "catalog_xai.core.preprocess",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'catalog_xai' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
