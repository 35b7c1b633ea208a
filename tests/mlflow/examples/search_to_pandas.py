"""A small sweep, then the runs as a pandas DataFrame: filter, order, pick the best."""
import ledger as mlflow

mlflow.set_experiment("sweep")
for lr in (0.001, 0.01, 0.1):
    with mlflow.start_run(run_name=f"lr-{lr}"):
        mlflow.log_param("lr", lr)
        mlflow.log_metric("val_loss", abs(lr - 0.01) + 0.1)

runs = mlflow.search_runs(experiment_names=["sweep"], filter_string="metrics.val_loss < 0.5",
                          order_by=["metrics.val_loss ASC"])
print(runs[["run_id", "params.lr", "metrics.val_loss"]].to_string(index=False))
best = runs.iloc[0]
print("best lr", best["params.lr"], "status", best["status"])

experiment = mlflow.get_experiment_by_name("sweep")
everything = mlflow.search_runs([experiment.experiment_id])
print("columns", [c for c in everything.columns if not c.startswith("tags.")])
print("count", len(everything))
