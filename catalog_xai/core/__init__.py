"""The science: decoding and framing, GZ2 labels, models, saliency, bar measurement, units,
training and evaluation.  Pure numpy/torch, arrays in and arrays out: no Ray, no fsspec, no
file paths (tests/test_layout.py walks this folder and enforces it)."""
