"""Projects and reproduction: run an MLflow Project (``MLproject``) as a run, rerun a recorded
run from git (``reproduce``); a run's lineage is in registry/lineage.py."""
