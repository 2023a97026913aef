"""Helpers the tools share: where the repository is (``paths``), byte-stable zip and pickle
writing (``zips``, ``pickles``), provenance for manifests (``manifest``), a pinned string hash
(``hashseed``) and, for the generators that use torch, tensor comparisons (``tensors``)."""
