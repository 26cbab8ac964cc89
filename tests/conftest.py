"""Test-session settings: single-threaded torch/BLAS, offline Hugging Face, Agg."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

# Small torch problems on 2 cores are fastest single-threaded; this is the test
# process only, never the library.
torch.set_num_threads(1)
