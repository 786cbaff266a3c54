-- Run by the postgres image on its first start (empty data directory): the MLflow tracking
-- server's backend store lives in its own database beside lensflow's.
CREATE DATABASE mlflow OWNER lensflow;
