"""Model quality: Optuna tuning on validation splits, and the multi-seed report (Markdown + HTML)."""
