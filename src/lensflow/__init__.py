"""lensflow: an end-to-end MLOps recommender on MovieLens 100k."""

__version__ = "0.1.0"
