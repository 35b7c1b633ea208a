"""MLflow's API over the ledger, without mlflow installed (`import ledger as mlflow`).

The plugin (ledger/mlflow_plugin) adapts MLflow's own stores onto the same functions.
"""
