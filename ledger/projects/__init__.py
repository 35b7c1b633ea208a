"""Projects and reproduction: run an MLflow Project (``MLproject``) as a run, rerun a recorded
run from git (``reproduce``), and follow a run's lineage to the models built from it."""
